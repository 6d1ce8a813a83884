import { describe, expect, it } from 'vitest';
import { ProgressBar, formatNumber, formatTime } from '../src/progress.js';

function sink(tty: boolean) {
  const lines: string[] = [];
  return { stream: { isTTY: tty, columns: 200, write: (s: string) => (lines.push(s), true) } as never, lines };
}

describe('progress bar', () => {
  it('prints about every 10% when not on a terminal, with figures', () => {
    const s = sink(false);
    const bar = new ProgressBar('train dit', 100, { stream: s.stream });
    for (let i = 1; i <= 100; i++) bar.update(i, { loss: 1 / i });
    bar.done();
    expect(s.lines.length).toBeGreaterThanOrEqual(10);
    expect(s.lines.length).toBeLessThanOrEqual(12);
    expect(s.lines.at(-1)).toMatch(/^train dit \[#{24}\] 100% 100\/100 .* loss=0\.0100\n$/);
    expect(s.lines[0]).toMatch(/^train dit \[#*\.*\]\s+\d+% \d+\/100/);
  });
  it('redraws in place on a terminal and stays silent when asked', () => {
    const s = sink(true);
    const bar = new ProgressBar('x', 4, { stream: s.stream });
    bar.update(4);
    bar.done();
    expect(s.lines.every((l) => l.startsWith('\r'))).toBe(true);
    expect(s.lines.at(-1)!.endsWith('\n')).toBe(true);
    const q = sink(false);
    const quiet = new ProgressBar('x', 4, { stream: q.stream, silent: true });
    quiet.update(2);
    quiet.done();
    expect(q.lines).toEqual([]);
  });
  it('formats numbers and durations compactly', () => {
    expect(formatNumber(0.12345)).toBe('0.1235');
    expect(formatNumber(12.345)).toBe('12.3');
    expect(formatNumber(1234)).toBe('1234');
    expect(formatNumber(1e-5)).toBe('1.00e-5');
    expect(formatTime(5.25)).toBe('5.3s');
    expect(formatTime(125)).toBe('2m05s');
  });
});
