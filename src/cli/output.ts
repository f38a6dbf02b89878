/** One JSON object per line on stdout: the machine-readable output of `serve` and `send --json`. */
export const jsonLine = (obj: unknown): void => {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
};
