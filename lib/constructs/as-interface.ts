import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/*
 * aws-cdk-lib declares some optional class fields (Vpc.vpnGatewayId, Bucket.isWebsite,
 * Cluster.defaultCloudMapNamespace ...) in a way `exactOptionalPropertyTypes` will not assign to
 * the matching interface. The objects are the same; these functions type a concrete resource as
 * its interface once, where it is created, so everything downstream takes interfaces.
 */

export const vpcRef = (vpc: ec2.Vpc): ec2.IVpc => vpc as unknown as ec2.IVpc;
export const bucketRef = (bucket: s3.Bucket): s3.IBucket => bucket as unknown as s3.IBucket;
export const clusterRef = (cluster: ecs.Cluster): ecs.ICluster => cluster as unknown as ecs.ICluster;
export const tableRef = (table: dynamodb.Table): dynamodb.ITable => table as unknown as dynamodb.ITable;
export const secretRef = (secret: secretsmanager.Secret): secretsmanager.ISecret => secret as unknown as secretsmanager.ISecret;
