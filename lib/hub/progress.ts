// A one-line download progress bar on stderr, drawn only on a TTY (quiet in logs, pipes and tests).
export class Progress {
  private last = 0;
  private readonly t0 = Date.now();
  private readonly on: boolean;

  constructor(private readonly label: string, private readonly total: number, enabled: boolean | undefined, private readonly start = 0) {
    const disabled = ['1', 'true', 'yes', 'on'].includes((process.env.HF_HUB_DISABLE_PROGRESS_BARS ?? '').toLowerCase());
    this.on = enabled ?? (Boolean(process.stderr.isTTY) && !disabled);
  }

  update(done: number): void {
    if (!this.on) return;
    const now = Date.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const rate = (done - this.start) / Math.max(1e-3, (now - this.t0) / 1000);
    const known = Number.isFinite(this.total) && this.total > 0;
    const frac = known ? Math.min(1, done / this.total) : 0;
    const width = 24;
    const bar = known ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ${(frac * 100).toFixed(0).padStart(3)}% ` : '';
    process.stderr.write(`\r${this.label} ${bar}${mb(done)}${known ? `/${mb(this.total)}` : ''} MB ${mb(rate)} MB/s\x1b[K`);
  }

  done(): void {
    if (this.on && this.last) process.stderr.write('\n');
  }
}
