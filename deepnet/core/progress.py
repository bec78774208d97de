"""What a training loop shows while it runs: the same numbers on a terminal and in a log.

On a terminal, a tqdm bar with the loop's latest numbers (loss, examples/s, ...). When the
output is piped or logged (no terminal), a bar would be one unreadable line of carriage
returns, so a plain line with the same numbers is printed every `every` seconds instead.
Epoch and validation summaries go through `write`, which works alike in both cases.
"""

import sys
import time


class Progress:
    def __init__(self, total, initial=0, desc="", unit="step", enabled=True, every=30.0):
        self.enabled, self.every, self.desc, self.unit = enabled, every, desc, unit
        self.total, self.n, self.numbers = total, initial, {}
        self.tty = enabled and sys.stderr.isatty()
        self.bar = None
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
        self.t_line = time.perf_counter()

    def update(self, n=1, **numbers):
        """Count n more units; `numbers` (name -> value) replace the shown ones when given."""
        self.n += n
        if numbers:
            self.numbers = numbers
        if self.bar is not None:
            self.bar.update(n)
            if numbers:
                self.bar.set_postfix({k: _fmt(v) for k, v in numbers.items()}, refresh=False)
        elif self.enabled and time.perf_counter() - self.t_line >= self.every:
            self.t_line = time.perf_counter()
            shown = "  ".join(f"{k} {_fmt(v)}" for k, v in self.numbers.items())
            print(f"{self.desc}: {self.unit} {self.n}/{self.total}  {shown}".rstrip(), flush=True)

    def write(self, line):
        """A summary line (an epoch's, a validation's), printed above the bar."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.0f}"
    return str(v)
