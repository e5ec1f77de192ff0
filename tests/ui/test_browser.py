"""The workstation in a real browser: the page served on a free localhost port with the tiny
model, driven by Debian's headless Chromium through selenium (no browser or driver download:
/usr/bin/chromium and /usr/bin/chromedriver are named).

Skipped, saying why, without gradio (``pip install -e '.[ui]'``), selenium (the test extra) or
Debian's ``chromium`` and ``chromium-driver``. With MASKVAT_UI_SCREENSHOTS=DIR the screenshot of
each state is kept in DIR (docs/ui holds the committed ones).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from ui_helpers import outside_changed, sha256, tiny_pipeline, video_packets, write_clip

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
gradio = pytest.importorskip("gradio", reason="the UI tests need gradio: pip install -e '.[ui]'")
pytest.importorskip("selenium", reason="the UI tests need selenium (the test extra): pip install -e '.[test]'")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("the UI tests need Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver): "
                "apt-get install -y chromium chromium-driver", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from maskvat.media import read_audio  # noqa: E402
from maskvat.ui.actions import Workstation  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
WAIT = 90  # seconds for any one step on a loaded 2-core machine
LSB = 1 / 32768


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline()


@pytest.fixture(scope="module")
def server(pipe, tmp_path_factory):
    """(url, workstation): the page on a free port of 127.0.0.1, in this process."""
    from maskvat.ui.app import serve

    station = Workstation("tiny", out_dir=tmp_path_factory.mktemp("out"), loader=lambda *a: pipe)
    port = free_port()
    page = serve(station, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/", station
    page.close()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1900",
                "--disable-gpu", "--mute-audio"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver
    driver.quit()


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("MASKVAT_UI_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_for(driver, what, timeout=WAIT):
    """what(driver), once truthy; the page re-renders as it updates, so a vanished element is retried."""
    return WebDriverWait(driver, timeout, poll_frequency=0.2,
                         ignored_exceptions=[StaleElementReferenceException]).until(lambda d: what(d))


def visible(driver, css):
    return [e for e in driver.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]


def status(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "#status").text


def set_field(driver, elem_id: str, value) -> None:
    field = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input, #{elem_id} textarea")
    field.clear()
    field.send_keys(str(value))


def toasts(driver) -> list[str]:
    return [e.text for e in visible(driver, ".toast-body")]


def save_chosen(driver, downloads: Path, want: set[str]) -> dict[str, Path]:
    """Press 'Save chosen', click each download link, wait for the files named ``want``."""
    driver.find_element(By.CSS_SELECTOR, "#save").click()

    def links(d):
        found = {a.get_attribute("download"): a for a in visible(d, "#downloads a[download]")}
        return found if want <= found.keys() else None

    for name in sorted(want):
        wait_for(driver, lambda d: links(d) and (links(d)[name].click() or True))
    done = wait_for(driver, lambda d: all((downloads / n).is_file() for n in want)
                    and not list(downloads.glob("*.crdownload")) or None)
    assert done
    return {n: downloads / n for n in want}


def off_machine_requests(driver) -> list[str]:
    hosts = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            host = urlparse(url).hostname
            if url.startswith(("http", "ws")) and host not in ("127.0.0.1", "localhost"):
                hosts.append(url)
    return hosts


def test_a_foley_round_in_the_browser(server, browser, downloads, shots, pipe, tmp_path):
    """Upload a clip, generate 2 candidates, choose the second, save it, regenerate 0.4-0.6 s of it,
    save the new one; the files: the kept samples outside the widened range are the chosen
    candidate's, the range is new, and the saved mp4's video packets are the input's."""
    url, station = server
    clip = write_clip(tmp_path / "clip.mp4")
    before = sha256(clip)
    d = browser
    d.get(url)
    wait_for(d, lambda d: visible(d, "#generate"))
    d.find_element(By.CSS_SELECTOR, "#videos input[type=file]").send_keys(str(clip))
    wait_for(d, lambda d: "clip.mp4: 1.00 s" in status(d))
    set_field(d, "steps", 3)
    d.save_screenshot(str(shots / "1-uploaded.png"))

    d.find_element(By.CSS_SELECTOR, "#generate").click()
    wait_for(d, lambda d: "take 1, 2 candidates" in status(d))
    wait_for(d, lambda d: len(visible(d, "#picture1 img, #picture2 img")) == 2)
    assert len(visible(d, "#candidate1, #candidate2")) == 2 and not visible(d, "#candidate3")
    assert len(visible(d, "#audio1 audio, #audio1 .waveform-container, #audio2 audio, #audio2 .waveform-container")) >= 2
    d.save_screenshot(str(shots / "2-candidates.png"))

    d.find_element(By.XPATH, "//*[@id='chosen']//label[contains(., 'Candidate 2')]").click()
    take = save_chosen(d, downloads, {"clip_take1_c2.wav", "clip_take1_c2_maskvat.mp4"})

    set_field(d, "range", "0.4-0.6")
    d.find_element(By.CSS_SELECTOR, "#regenerate").click()
    wait_for(d, lambda d: "take 2, 2 variations of 0.4-0.6 s in take 1, candidate 2 (seed 1)" in status(d))
    wait_for(d, lambda d: len(visible(d, "#picture1 img, #picture2 img")) == 2
             and "take 2" in d.find_element(By.CSS_SELECTOR, "#candidate1").text)
    d.save_screenshot(str(shots / "3-regenerated.png"))

    fixed = save_chosen(d, downloads, {"clip_take2_c1.wav", "clip_take2_c1_maskvat.mp4"})
    d.execute_script("document.querySelector('#downloads').scrollIntoView()")
    d.save_screenshot(str(shots / "4-saved.png"))

    kept, new = read_audio(take["clip_take1_c2.wav"]), read_audio(fixed["clip_take2_c1.wav"])
    assert kept.shape == new.shape == (44100,)
    keep = outside_changed([(0.4, 0.6)], pipe, len(kept))
    assert 0.4 < keep.mean() < 0.8
    np.testing.assert_allclose(new[keep], kept[keep], atol=LSB)  # the chosen take, up to the 16-bit file
    assert (np.abs(new[~keep] - kept[~keep]) > 4 * LSB).mean() > 0.5  # and the range is new
    for muxed in (take["clip_take1_c2_maskvat.mp4"], fixed["clip_take2_c1_maskvat.mp4"]):
        assert video_packets(muxed) == video_packets(clip)
    assert sha256(clip) == before
    assert not off_machine_requests(d)  # offline: the page asked nothing of any other host


def test_a_bad_file_is_a_message_on_the_page_not_a_traceback(server, browser, shots, tmp_path):
    url, _ = server
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    d = browser
    d.get(url)
    wait_for(d, lambda d: visible(d, "#generate"))
    d.find_element(By.CSS_SELECTOR, "#videos input[type=file]").send_keys(str(bad))
    wait_for(d, lambda d: "notes.mp4" in status(d))
    d.find_element(By.CSS_SELECTOR, "#generate").click()
    shown = wait_for(d, lambda d: [t for t in toasts(d) if "notes.mp4" in t] or None)
    d.save_screenshot(str(shots / "5-error.png"))
    assert "Traceback" not in d.page_source and "File \"" not in shown[0]
    assert "notes.mp4: is not a media file" in shown[0] and "/gradio/" not in shown[0]  # named as the user knows it
    assert "Not done: notes.mp4: is not a media file" in status(d)
    assert not visible(d, "#candidate1")


def test_a_taken_port_is_one_line_and_status_2(capsys):
    from maskvat.cli.main import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["ui", "--model", "debug", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (f"maskvat: error: cannot listen on 127.0.0.1:{port}: the port is taken or the "
                                    "address is not this machine's (pass another --port or --host)")
    assert "workstation is at" not in err


def test_the_queue_does_every_uploaded_clip_and_reports_the_bad_one(server, browser, shots, tmp_path):
    url, _ = server
    clip = write_clip(tmp_path / "clip.mp4")
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    d = browser
    d.get(url)
    wait_for(d, lambda d: visible(d, "#generate"))
    d.find_element(By.CSS_SELECTOR, "#videos input[type=file]").send_keys(f"{clip}\n{bad}")
    wait_for(d, lambda d: "clip.mp4: 1.00 s" in status(d))
    set_field(d, "steps", 2)
    d.execute_script("arguments[0].click()", d.find_element(By.CSS_SELECTOR, "#queue-panel .label-wrap"))
    d.execute_script("arguments[0].click()", wait_for(d, lambda d: visible(d, "#queue"))[0])
    wait_for(d, lambda d: "clip_maskvat.mp4" in d.find_element(By.CSS_SELECTOR, "#table").text)
    table = d.find_element(By.CSS_SELECTOR, "#table").text
    assert "clip.wav" in table and "notes.mp4: is not a media file" in table and "/gradio/" not in table
    names = wait_for(d, lambda d: {a.get_attribute("download") for a in visible(d, "#queue-downloads a[download]")}
                     >= {"clip.wav", "clip_maskvat.mp4"})
    assert names
    d.execute_script("document.querySelector('#table').scrollIntoView()")
    d.save_screenshot(str(shots / "6-queue.png"))
