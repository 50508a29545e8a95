"""Problems shown to a person: a browser that navigates to a page (its Accept header puts text/html
first) gets a short Chinese HTML page with the same status; API clients (and the pages' own fetches,
which send `*/*`) keep getting problem+json."""

import html
from collections.abc import Mapping

from starlette.responses import HTMLResponse

# (heading, what to do) by status; the stable `code` and the detail stay on the page for support.
_TEXTS: dict[int, tuple[str, str]] = {
    400: ("请求无法识别", "提交的内容格式不正确，请检查后重试。"),
    401: ("需要登录", "请先登录：在看板首页输入单位办公室发放的密钥，或打开办公室提供的看板链接。"),
    403: ("无权访问", "您的密钥没有查看此内容的权限，请联系区政府办公室。"),
    404: ("页面不存在", "找不到您要访问的页面或记录，请检查地址是否正确。"),
    405: ("不支持此操作", "此地址不支持该请求方式。"),
    406: ("格式不可用", "无法按所请求的格式提供内容。"),
    409: ("与已有记录冲突", "该操作与系统中已有的记录冲突。"),
    413: ("内容过大", "提交的内容超过了大小限制。"),
    415: ("格式不支持", "提交内容的格式不受支持。"),
    422: ("请求参数有误", "地址中的参数不正确（例如期间应写作 2026、2026-Q1 或 2026-03）。"),
    429: ("请求过于频繁", "请稍后再试。"),
    500: ("系统错误", "系统发生意外错误，请稍后重试；如仍有问题请联系管理员。"),
    503: ("服务暂时不可用", "数据库暂时无法连接，请稍后刷新页面。"),
}
_DEFAULT = ("请求未能完成", "请稍后重试，或联系管理员。")

PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - 政务信息工作考核</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; background: #f4f6fa;
  color: #1d2733; margin: 0; display: grid; place-items: center; min-height: 100vh; }}
main {{ background: #fff; border-top: 6px solid #b3151e; padding: 2rem 2.5rem; max-width: 34rem;
  box-shadow: 0 2px 12px rgba(0,0,0,.08); }}
h1 {{ margin: 0 0 1rem; font-size: 1.6rem; }}
p {{ line-height: 1.7; }}
.code {{ color: #6b7785; font-size: .85rem; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p>{advice}</p>
<p><a href="/">返回看板首页</a></p>
<p class="code">状态 {status} · 错误代码 {code} · {detail}</p>
</main>
</body>
</html>
"""


def wants_html(headers: Mapping[str, str] | None) -> bool:
    """A browser navigating: the first media range it accepts is an HTML one."""
    accept = (headers or {}).get("accept", "")
    first = accept.split(",", 1)[0].split(";", 1)[0].strip().lower()
    return first in ("text/html", "application/xhtml+xml")


def problem_page(status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    title, advice = _TEXTS.get(status, _DEFAULT)
    body = PAGE.format(title=title, advice=advice, status=status, code=html.escape(code), detail=html.escape(detail))
    return HTMLResponse(body, status_code=status, headers=dict(headers or {}))
