"""The bulletins rendered to pages the way the office prints them: the docx and xlsx by LibreOffice
headless, the html by a browser (headless Chromium, which honours its @page A4 rule — LibreOffice's
HTML import ignores the style sheet and printed blank pages); then pdftoppm.

LibreOffice, poppler and a Chinese font are installed from Debian's packages when missing. With KAOHE_RENDER_DOCS=1 the first page of each
(and the docx's second) is kept in docs/ (docs/bulletin-*.png) for a reader to see what the office gets.
"""

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from shared.settings import REPO_ROOT
from tests.support.cdp import ensure_chromium, ensure_debian_packages, has_chinese_font
from tools.demo import generate, load


@pytest.fixture(scope="module", autouse=True)
def office_programs() -> None:
    ensure_debian_packages(
        {
            "libreoffice-writer-nogui": shutil.which("soffice") is None,
            "libreoffice-calc-nogui": shutil.which("soffice") is None,
            "poppler-utils": shutil.which("pdftoppm") is None,
            "fonts-noto-cjk": not has_chinese_font(),
        }
    )
    assert shutil.which("soffice") and shutil.which("pdftoppm"), "LibreOffice or poppler could not be installed"


DPI = "90"  # enough to read a 五号 table in docs/


async def _pdf(source: Path, out: Path) -> Path:
    pdf = out / (source.stem + ".pdf")
    if source.suffix == ".html":
        chromium = await asyncio.to_thread(ensure_chromium)
        convert = await asyncio.create_subprocess_exec(
            chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={out}/chromium",
            "--no-pdf-header-footer", f"--print-to-pdf={pdf}", source.as_uri(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
    else:
        convert = await asyncio.create_subprocess_exec(
            "soffice", f"-env:UserInstallation=file://{out}/profile", "--headless", "--convert-to", "pdf",
            "--outdir", str(out), str(source), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
    assert await convert.wait() == 0
    assert pdf.exists()
    return pdf


async def _pages(source: Path, out: Path) -> list[Path]:
    pdf = await _pdf(source, out)
    png = await asyncio.create_subprocess_exec("pdftoppm", "-png", "-r", DPI, str(pdf), str(out / source.stem))
    assert await png.wait() == 0
    return sorted(out.glob(f"{source.stem}-*.png"))


async def _page_texts(pdf: Path) -> list[str]:
    text = await asyncio.create_subprocess_exec("pdftotext", "-layout", str(pdf), "-", stdout=asyncio.subprocess.PIPE)
    out, _ = await text.communicate()
    return out.decode("utf-8").split("\f")


# Besides the first page, the page a reader should see of each: where the 改正意见 or the 表彰 start.
TELLING = {"2025-Q2": "改正意见", "2025": "表彰先进单位"}


@pytest.mark.parametrize("fmt", ["docx", "xlsx", "html"])
async def test_bulletins_render_to_pages(kaohe, tmp_path, fmt):
    """The demo district's 2025 (40 units, a year of everything) as the office prints it."""
    await load(kaohe.ingest, generate(seed=2026, units=40, officers=150, year=2025, months=12))
    await kaohe.settled()
    keep = os.environ.get("KAOHE_RENDER_DOCS") == "1"
    for period, telling in TELLING.items():
        response = await kaohe.reporting.get(f"/v1/bulletins/{period}", params={"format": fmt})
        assert response.status_code == 200
        source = tmp_path / f"bulletin-{period}.{fmt}"
        source.write_bytes(response.content)
        pages = await _pages(source, tmp_path)
        assert pages, f"{fmt} {period} rendered no page"
        texts = await _page_texts(tmp_path / f"{source.stem}.pdf")
        found = [index for index, page in enumerate(texts) if telling in page.replace(" ", "")]
        if fmt != "xlsx":  # the workbook's sheets carry the lists, not these headings
            assert found, f"{fmt} {period}: no page says {telling}"
        if keep:
            shutil.copy(pages[0], REPO_ROOT / "docs" / f"bulletin-{period}-{fmt}.png")
            if found and found[0] > 0:
                shutil.copy(pages[found[0]], REPO_ROOT / "docs" / f"bulletin-{period}-{fmt}-page{found[0] + 1}.png")
