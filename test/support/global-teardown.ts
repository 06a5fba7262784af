export default async function globalTeardown(): Promise<void> {
  await Promise.all((globalThis.__OPENCLAW_EMULATORS__ ?? []).map((e) => e.stop()));
}
