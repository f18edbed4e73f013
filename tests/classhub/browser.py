"""A teacher and students in a real headless Chromium on the class hub (Playwright, run
with the Python of envs/deploy.lock by tests/test_classhub.py).  Each command prints one
JSON object; the browser sessions are kept in --out as Playwright storage states.

  browser.py class --url U --teacher NAME:PW --student NAME:PW ... --notebook PATH --out DIR
  browser.py run --url U --user NAME --notebook PATH --expect died|plot --out DIR
  browser.py get --url U --user NAME --path /user/NAME/api/status --out DIR
  browser.py login --url U --student NAME:PW --out DIR
  browser.py crowd --url U --student NAME:PW ... --notebook PATH --phase login|run --out DIR
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = "/usr/bin/chromium"  # Debian's package
# As root in a container: no sandbox; shared memory in /tmp, not a small /dev/shm.
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]
TIMEOUT_MS = 600_000
# (of the notebook on show: a workspace may keep other notebooks' panels, hidden)
IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']:visible"
# The status bar once the notebook's kernel (the analyses' environment) has started.
KERNEL_IDLE = re.compile(r"\(ATLAS Open Data\) \| Idle")
# True once every code cell of the notebook on show has run ("[7]:", not "[*]:" or "[ ]:").
ALL_CELLS_RAN = r"""() => {
  const panel = [...document.querySelectorAll('.jp-NotebookPanel')]
    .find(p => !p.classList.contains('lm-mod-hidden'));
  const prompts = panel ? [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')] : [];
  return prompts.length > 0 && prompts.every(p => /^\[\d+\]:$/.test(p.textContent.trim()));
}"""
ERROR_OUTPUT = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"


def _context(browser: Browser, out: Path, user: str | None = None) -> Any:
    state = out / f"{user}.json" if user else None
    return browser.new_context(
        ignore_https_errors=True,
        viewport={"width": 1400, "height": 900},
        storage_state=str(state) if state and state.exists() else None,
    )


def _login(page: Page, url: str, user: str, password: str, wait: bool = True) -> None:
    """Log in; ``wait=False`` sends the form and returns at once (logins of many at once)."""
    page.goto(f"{url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit", no_wait_after=not wait)
    if wait:
        page.wait_for_load_state()


def _answer_dialogs(page: Page, seen: list[str]) -> None:
    """Record (in ``seen``) and accept JupyterLab's open dialogs: they block the menus."""
    dialogs = page.locator(".jp-Dialog")
    for _ in range(dialogs.count()):
        dialog = dialogs.first
        seen.append(" ".join(dialog.inner_text().split()))
        dialog.locator(".jp-mod-accept").first.click()
        page.wait_for_timeout(500)


def _wait_for_kernel(page: Page) -> None:
    """Until the notebook's kernel is up and idle, and stays so (JupyterLab may replace the
    first kernel it starts while the page settles)."""
    page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
    status = page.get_by_text(KERNEL_IDLE).first
    status.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_timeout(3000)
    status.wait_for(timeout=TIMEOUT_MS)


def _run_all(
    page: Page, url: str, user: str, notebook: str, seen: list[str], navigate: bool = True
) -> None:
    """Open ``notebook`` (unless ``navigate`` is false) and run all its cells; dialogs that
    JupyterLab opens on the way are answered and their texts added to ``seen``."""
    if navigate:
        page.goto(f"{url}/user/{user}/lab/tree/{notebook}", timeout=TIMEOUT_MS)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=TIMEOUT_MS)
    _wait_for_kernel(page)
    started = page.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[(\*|\d+)\]"))
    for _ in range(3):  # a menu clicked while the page still settles may not act
        _answer_dialogs(page, seen)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
        try:
            started.first.wait_for(timeout=30_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise RuntimeError(f"{notebook}: Run All Cells did not start the cells")


def _wait_for_plot(page: Page, out: Path, user: str, name: str) -> dict[str, Any]:
    page.wait_for_selector(".jp-OutputArea-output img", state="attached", timeout=TIMEOUT_MS)
    # The last cell has run when every code cell of the notebook shown has its number.
    page.wait_for_function(ALL_CELLS_RAN, timeout=TIMEOUT_MS)
    image = page.locator(".jp-OutputArea-output img").first
    image.scroll_into_view_if_needed()
    page.screenshot(path=str(out / f"{user}-{name}.png"))
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return {
        "images": page.locator(".jp-OutputArea-output img").count(),
        "image_width": image.evaluate("img => img.naturalWidth"),
        "tracebacks": sum("Traceback" in t for t in errors.all_inner_texts())
        + page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
        ).count(),
    }


def cmd_class(browser: Browser, args: argparse.Namespace) -> dict[str, Any]:
    """Students sign up (and are refused until approved), the teacher approves them, each
    logs in and runs the notebook to its plot, all at once."""
    result: dict[str, Any] = {}
    pages = {}
    for spec in args.student:
        user, password = spec.split(":", 1)
        context = _context(browser, args.out)
        page = context.new_page()
        page.goto(f"{args.url}/hub/signup")
        page.fill("#username_input", user)
        page.fill("#password_input", password)
        page.fill("#password_confirmation_input", password)
        page.click("#signup_submit")
        page.wait_for_load_state()
        signup_text = page.inner_text("body")
        _login(page, args.url, user, password)
        result[user] = {
            "signup_says": " ".join(signup_text.split())[:300],
            "refused_before_approval": "/hub/login" in page.url,
        }
        pages[user] = (page, password)
    teacher, teacher_password = args.teacher.split(":", 1)
    admin = _context(browser, args.out).new_page()
    _login(admin, args.url, teacher, teacher_password)
    for user in pages:
        admin.goto(f"{args.url}/hub/authorize")
        admin.click(f"a[href$='/authorize/{user}']")
        admin.wait_for_load_state()
    admin.goto(f"{args.url}/hub/authorize")
    admin.screenshot(path=str(args.out / "teacher-authorize.png"))
    for user, (page, password) in pages.items():
        _login(page, args.url, user, password)
        page.wait_for_url(re.compile(f"/user/{user}/lab"), timeout=TIMEOUT_MS)
        page.wait_for_selector(".jp-DirListing-item", timeout=TIMEOUT_MS)
        page.wait_for_load_state("networkidle")
        result[user]["lab_url"] = page.url
        page.context.storage_state(path=str(args.out / f"{user}.json"))
    # from here on the students' sessions are saved: after a browser crash, main() starts
    # a new browser and resumes with them
    args.resume, args.partial = _class_run, result
    return _class_run(browser, args, {user: page for user, (page, _) in pages.items()})


def _class_run(
    browser: Browser, args: argparse.Namespace, pages: dict[str, Page] | None = None
) -> dict[str, Any]:
    """The students of ``class`` (logged in) run the notebook to its plot, all at once; without
    ``pages`` in new pages of their saved sessions."""
    result: dict[str, Any] = args.partial
    if pages is None:
        pages = {user: _context(browser, args.out, user).new_page() for user in result}
    for user, page in pages.items():
        result[user]["dialogs"] = []
        _run_all(page, args.url, user, args.notebook, result[user]["dialogs"])
    for user, page in pages.items():
        result[user].update(_wait_for_plot(page, args.out, user, Path(args.notebook).stem))
    return result


def cmd_run(browser: Browser, args: argparse.Namespace) -> dict[str, Any]:
    page = _context(browser, args.out, args.user).new_page()
    dialogs: list[str] = []
    _run_all(page, args.url, args.user, args.notebook, dialogs)
    name = Path(args.notebook).stem
    if args.expect == "plot":
        return {**_wait_for_plot(page, args.out, args.user, name), "dialogs": dialogs}
    died = page.get_by_text(re.compile(r"kernel .*(died|restarting)", re.IGNORECASE)).first
    died.wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=str(args.out / f"{args.user}-{name}.png"))
    return {"message": " ".join(died.inner_text().split())}


def cmd_notebooks(browser: Browser, args: argparse.Namespace) -> dict[str, Any]:
    """Each notebook in turn, in a fresh workspace with the student's other kernels shut
    down (one kernel at a time stays under the memory limit): open, run all cells to the
    last, screenshot."""
    page = _context(browser, args.out, args.user).new_page()
    base = f"{args.url}/user/{args.user}"
    result: dict[str, Any] = {}
    for notebook in args.notebook:
        page.goto(f"{base}/lab?reset", timeout=TIMEOUT_MS)  # no tabs of earlier notebooks
        page.wait_for_selector(".jp-DirListing-item", timeout=TIMEOUT_MS)
        xsrf = next(  # the student server's token, not the hub's (path /hub/)
            c["value"]
            for c in page.context.cookies()
            if c["name"] == "_xsrf" and c["path"].startswith(f"/user/{args.user}")
        )
        for kernel in page.request.get(f"{base}/api/kernels").json():
            gone = page.request.delete(
                f"{base}/api/kernels/{kernel['id']}", headers={"X-XSRFToken": xsrf}
            )
            if gone.status != 204:
                raise RuntimeError(f"shutting down kernel {kernel['id']}: {gone.status}")
        name = Path(notebook).stem
        dialogs: list[str] = []
        t0 = time.monotonic()
        _run_all(page, args.url, args.user, notebook, dialogs)
        result[name] = {**_wait_for_plot(page, args.out, args.user, name), "dialogs": dialogs}
        result[name]["seconds"] = round(time.monotonic() - t0, 1)
    return result


def cmd_get(browser: Browser, args: argparse.Namespace) -> dict[str, Any]:
    context = _context(browser, args.out, args.user)
    response = context.request.get(f"{args.url}{args.path}")
    return {"status": response.status, "body": response.text()[:500]}


def cmd_login(browser: Browser, args: argparse.Namespace) -> dict[str, Any]:
    user, password = args.student.split(":", 1)
    page = _context(browser, args.out).new_page()
    _login(page, args.url, user, password)
    page.wait_for_url(re.compile(f"/user/{user}/"), timeout=TIMEOUT_MS)
    page.context.storage_state(path=str(args.out / f"{user}.json"))  # for later commands
    return {"url": page.url}


def cmd_crowd(browser: Browser, args: argparse.Namespace) -> dict[str, Any]:
    """Students (approved accounts) at once: ``--phase login`` logs them in (seconds until
    each one's JupyterLab is up), ``--phase run`` runs the notebook in each (seconds until
    each one sees the plot)."""
    users = dict(spec.split(":", 1) for spec in args.student)
    result: dict[str, Any] = {user: {} for user in users}
    pages: dict[str, Page] = {}
    t0 = time.monotonic()
    for user, password in users.items():
        if args.phase == "login":  # the logins are sent at once; the servers start in parallel
            page = _context(browser, args.out).new_page()
            _login(page, args.url, user, password, wait=False)
        else:
            page = _context(browser, args.out, user).new_page()
            page.goto(f"{args.url}/user/{user}/lab/tree/{args.notebook}", timeout=TIMEOUT_MS)
        pages[user] = page
    if args.phase == "login":
        for user, page in pages.items():
            page.wait_for_url(re.compile(f"/user/{user}/lab"), timeout=TIMEOUT_MS)
            page.wait_for_selector(".jp-DirListing-item", timeout=TIMEOUT_MS)
            result[user]["server_up_s"] = round(time.monotonic() - t0, 1)
            page.context.storage_state(path=str(args.out / f"{user}.json"))
        return result
    for page in pages.values():
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=TIMEOUT_MS)
        _wait_for_kernel(page)
    t1 = time.monotonic()
    for user, page in pages.items():
        result[user]["dialogs"] = []
        _run_all(page, args.url, user, args.notebook, result[user]["dialogs"], navigate=False)
    for user, page in pages.items():
        _wait_for_plot(page, args.out, user, "crowd")
        result[user]["plot_s"] = round(time.monotonic() - t1, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("class", "run", "notebooks", "get", "login", "crowd"):
        p = sub.add_parser(name)
        p.add_argument("--url", required=True)
        p.add_argument("--out", type=Path, required=True)
        if name == "class":
            p.add_argument("--teacher", required=True)
        if name in ("class", "crowd"):
            p.add_argument("--student", action="append", required=True)
            p.add_argument("--notebook", required=True)
        if name == "crowd":
            p.add_argument("--phase", choices=["login", "run"], required=True)
        if name in ("run", "notebooks", "get"):
            p.add_argument("--user", required=True)
        if name == "notebooks":
            p.add_argument("--notebook", action="append", required=True)
        if name == "run":
            p.add_argument("--notebook", required=True)
            p.add_argument("--expect", choices=["plot", "died"], required=True)
        if name == "get":
            p.add_argument("--path", required=True)
        if name == "login":
            p.add_argument("--student", required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    command = {
        "class": cmd_class,
        "run": cmd_run,
        "notebooks": cmd_notebooks,
        "get": cmd_get,
        "login": cmd_login,
        "crowd": cmd_crowd,
    }
    args.resume = None
    with sync_playwright() as p:
        result = _with_browser(p, command[args.command], args)
    print(json.dumps(result))


def _with_browser(p: Playwright, run: Any, args: argparse.Namespace) -> dict[str, Any]:
    """``run(browser, args)`` in a new headless Chromium.  If the browser (not the page under
    test) goes away in a command that saved its sessions (``args.resume``), once: a new
    browser resumes from there, and ``crashes.log`` in --out says so."""
    for attempt in (1, 2):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            return run(browser, args)
        except PlaywrightError as exc:
            gone = not browser.is_connected() or "has been closed" in str(exc)
            if attempt == 2 or not gone or args.resume is None:
                raise
            note = f"{time.strftime('%H:%M:%S')} {args.command}: the browser went away, resumed "
            note += f"in a new one: {str(exc).splitlines()[0]}\n"
            with (args.out / "crashes.log").open("a", encoding="utf-8") as log:
                log.write(note)
            print(note, end="", file=sys.stderr)
            run = args.resume
        finally:
            with contextlib.suppress(PlaywrightError):  # a dead browser is closed already
                browser.close()
    raise AssertionError("unreachable")


if __name__ == "__main__":
    main()
