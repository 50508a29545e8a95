"""The bulletins rendered to pages (LibreOffice headless, pdftoppm) the way the office prints them.

Skipped where LibreOffice or poppler is not installed (`apt-get install libreoffice-writer
libreoffice-calc poppler-utils fonts-noto-cjk`). With KAOHE_RENDER_DOCS=1 the first page of each
is kept in docs/ (docs/bulletin-*.png) for a reader to see what the office gets.
"""

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from shared.settings import REPO_ROOT
from tests.test_office_year_bulletins import _year

pytestmark = pytest.mark.skipif(
    not (shutil.which("soffice") and shutil.which("pdftoppm")), reason="LibreOffice/poppler not installed"
)


async def _pages(source: Path, out: Path) -> list[Path]:
    convert = await asyncio.create_subprocess_exec(
        "soffice", f"-env:UserInstallation=file://{out}/profile", "--headless", "--convert-to", "pdf",
        "--outdir", str(out), str(source), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await convert.wait() == 0
    pdf = out / (source.stem + ".pdf")
    assert pdf.exists()
    png = await asyncio.create_subprocess_exec("pdftoppm", "-png", "-r", "60", str(pdf), str(out / source.stem))
    assert await png.wait() == 0
    return sorted(out.glob(f"{source.stem}-*.png"))


@pytest.mark.parametrize("fmt", ["docx", "xlsx", "html"])
async def test_bulletins_render_to_pages(kaohe, tmp_path, fmt):
    await _year(kaohe)
    keep = os.environ.get("KAOHE_RENDER_DOCS") == "1"
    for period in ("2026-Q2", "2026"):
        response = await kaohe.reporting.get(f"/v1/bulletins/{period}", params={"format": fmt})
        assert response.status_code == 200
        source = tmp_path / f"bulletin-{period}.{fmt}"
        source.write_bytes(response.content)
        pages = await _pages(source, tmp_path)
        assert pages, f"{fmt} {period} rendered no page"
        if keep:
            shutil.copy(pages[0], REPO_ROOT / "docs" / f"bulletin-{period}-{fmt}.png")
            if fmt == "docx" and len(pages) > 1:
                shutil.copy(pages[1], REPO_ROOT / "docs" / f"bulletin-{period}-{fmt}-page2.png")
