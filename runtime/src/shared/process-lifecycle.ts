/**
 * Entry-point plumbing shared by every service: a failed start prints only the error's message
 * (config errors already name the variable and the fix) and exits 1; SIGTERM and SIGINT run the
 * service's own stop once, then exit.
 */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

export function stopOnSignals(stop: (signal: NodeJS.Signals) => Promise<void>): void {
  const handle = (signal: NodeJS.Signals) =>
    void stop(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  process.once('SIGTERM', handle);
  process.once('SIGINT', handle);
}
