#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';

// One Stage per environment from validated config; the image digest comes from `-c imageDigest=`.
// CDK's built-in CloudFormation schema check adds ~20 s to every synth and only warns, so it runs
// when asked for (CI): CDK_VALIDATION=true npx cdk synth.
const app = new App({ builtinCloudFormationValidation: process.env.CDK_VALIDATION === 'true' });
buildApp(app);
app.synth();
