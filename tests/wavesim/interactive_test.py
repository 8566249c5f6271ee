#!/usr/bin/python3
"""interactive_test.py APP - the --interactive mode of a WaveSim app on a pseudo-terminal (CPU backend).

Checks that it draws frames with a status line (FPS, steps/s), reacts to keys (impulse, move, pause, quit),
exits 0 on 'q', and that the terminal's settings are restored afterwards: after 'q', and after SIGTERM (the
process then dies of SIGTERM, as its parent should see). Exit 1 on failure, 77 when no pty is available.
"""
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time


def read_for(fd, seconds, until=None):
    """Reads what fd gives for `seconds`, or less once `until` (bytes) has been read."""
    out = b""
    end = time.time() + seconds
    while time.time() < end and not (until and until in out):
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def run(app, finish):
    try:
        master, slave = pty.openpty()
    except OSError as e:
        print("no pty:", e)
        sys.exit(77)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    before = termios.tcgetattr(slave)
    grid = "64x48" if app.endswith("2d") else "32"
    child = subprocess.Popen([app, "--interactive", "--backend", "cpu", "--grid", grid], stdin=slave,
                             stdout=slave, stderr=slave, start_new_session=True)
    pid, fd = child.pid, master
    out = read_for(fd, 10.0, b"steps/s")
    if b"FPS" not in out or b"steps/s" not in out:
        print("no status line in the first frames:", out[-400:])
        return False
    for key in [b" ", b"d", b"\x1b[A", b"i", b"p"]:
        os.write(fd, key)
        out += read_for(fd, 0.2)
    out += read_for(fd, 2.0, b"PAUSED")
    if b"PAUSED" not in out:
        print("'p' did not pause")
        return False
    os.write(fd, b"p")
    out += read_for(fd, 0.2)
    if finish == "q":
        os.write(fd, b"q")
    else:
        os.kill(pid, signal.SIGTERM)
    out += read_for(fd, 5.0, b"\x1b[?1049l")
    status = child.wait(timeout=10)
    if finish == "q" and status != 0:
        print("quit with 'q': status", status)
        return False
    if finish == "term" and status != -signal.SIGTERM:
        print("SIGTERM: status", status)
        return False
    after = termios.tcgetattr(slave)
    os.close(slave)
    os.close(master)
    if after != before:
        print("the terminal's settings were not restored (%s): %r != %r" % (finish, after, before))
        return False
    # The restore sequence (show the cursor, leave the alternate screen) is the last thing written.
    if not out.rstrip(b"\r\n").endswith(b"\x1b[0m\x1b[?25h\x1b[?1049l"):
        print("the terminal was not restored (%s): %r" % (finish, out[-80:]))
        return False
    return True


def main():
    app = sys.argv[1]
    ok = run(app, "q") and run(app, "term")
    print("interactive %s: %s" % (os.path.basename(app), "ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
