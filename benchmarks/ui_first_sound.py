"""Time to first sound in the workstation (issue 24): wall and CPU seconds from clicking Generate
to the first candidate's player holding its sound, for one clip, in a real browser.

    python benchmarks/ui_first_sound.py --clip runs/ui_lab/test/test_000000.mp4 [--model lab] [--candidates 2]

Starts ``maskvat ui`` as its own process on a free port of 127.0.0.1 (the model loads before the
page opens; that load is reported apart), drives the page with Debian's headless Chromium
(/usr/bin/chromium, /usr/bin/chromedriver) and reads the server process's CPU time (user + system,
all its threads) from /proc before the click and when the first player has decoded the sound (its
duration shows). Each --runs after the first is a second press of Generate (warm). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", required=True)
    ap.add_argument("--model", default="lab")
    ap.add_argument("--candidates", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--screenshot", default=None, help="save the page after the first run here (PNG)")
    args = ap.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tempfile.mkdtemp(prefix="ui-first-sound-")
    t_start = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "maskvat", "ui", "--model", args.model, "--port", str(port),
                               "--out", out])
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if server.poll() is not None:
                raise SystemExit(f"maskvat ui stopped with status {server.returncode}")
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                time.sleep(0.5)
        page_up = time.perf_counter() - t_start
        load_cpu = cpu_seconds(server.pid)
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1900",
                  "--mute-audio"):
            opts.add_argument(a)
        d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        wait = WebDriverWait(d, 1800, poll_frequency=0.05)
        try:
            d.get(url)
            wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#generate").is_displayed())
            d.find_element(By.CSS_SELECTOR, "#videos input[type=file]").send_keys(str(Path(args.clip).resolve()))
            wait.until(lambda d: "Press Generate" in d.find_element(By.CSS_SELECTOR, "#status").text)
            field = d.find_element(By.CSS_SELECTOR, "#candidates input")
            field.clear()
            field.send_keys(str(args.candidates))
            runs = []
            for k in range(args.runs):
                status = f"take {k + 1},"
                cpu0, t0 = cpu_seconds(server.pid), time.perf_counter()
                d.find_element(By.CSS_SELECTOR, "#generate").click()
                wait.until(lambda d: status in d.find_element(By.CSS_SELECTOR, "#status").text
                           and d.find_element(By.CSS_SELECTOR, "#audio1 #duration").text not in ("", "0:00"))
                t1, cpu1 = time.perf_counter(), cpu_seconds(server.pid)
                wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#picture1 img").is_displayed())
                t2, cpu2 = time.perf_counter(), cpu_seconds(server.pid)
                runs.append({"first_sound_wall_s": round(t1 - t0, 2), "first_sound_cpu_s": round(cpu1 - cpu0, 2),
                             "pictures_wall_s": round(t2 - t0, 2), "pictures_cpu_s": round(cpu2 - cpu0, 2)})
                if k == 0 and args.screenshot:
                    d.save_screenshot(args.screenshot)
        finally:
            d.quit()
    finally:
        server.terminate()
        server.wait(30)
    print(json.dumps({"clip": args.clip, "model": args.model, "candidates": args.candidates,
                      "page_up_after_start_s": round(page_up, 1), "server_cpu_s_to_page_up": round(load_cpu, 1),
                      "cpu_cores": os.cpu_count(), "load_average_1min_at_end": os.getloadavg()[0], "runs": runs},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
