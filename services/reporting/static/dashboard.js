// The wall-screen dashboard: renders the inline answer, then refreshes the JSON (with If-None-Match, so
// an unchanged projection costs a 304 and no query) when the ranking stream says something changed, or
// by polling where the stream is not available. Text goes in through textContent only.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("dashboard-config").textContent);
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var etag = null;
  var previous = {};
  var SVG = "http://www.w3.org/2000/svg";
  var KIND_COLORS = { department: "#4cc3ff", township: "#ffad4a", other: "#9be17b" };
  var KIND_NAMES = { department: "部门", township: "镇街", other: "其他" };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    });
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) { node.textContent = String(text); }
    return node;
  }

  function setText(id, text) { document.getElementById(id).textContent = text; }

  function kpi(label, value, unit, year) {
    return el("div", { "class": "kpi" + (year ? " year" : "") }, [
      el("span", { "class": "label" }, [label]),
      el("span", { "class": "value" }, [value, el("span", { "class": "unit" }, [unit])])
    ]);
  }

  function renderKpis() {
    var q = data.quarter.totals, y = data.year.totals, box = document.getElementById("kpis");
    box.replaceChildren(
      kpi("本季度报送", q.submitted, "条"), kpi("本季度采用", q.adopted, "条次"),
      kpi("本季度领导批示", q.endorsements, "次"), kpi("年度报送", y.submitted, "条", true),
      kpi("年度采用", y.adopted, "条次", true), kpi("参评单位", y.units, "个", true));
  }

  // Units: 排名 单位 报送 采用 得分; officers: 排名 信息员 单位 采用 得分.
  function rankTable(rows, key, officers) {
    var table = el("table", { "class": "rank" + (officers ? " officers" : "") });
    table.appendChild(el("colgroup", {}, [el("col", { "class": "rank" }), el("col", {}),
      el("col", { "class": officers ? "unit" : "num" }), el("col", { "class": "num" }), el("col", { "class": "pts" })]));
    var heads = officers ? ["排名", "信息员", "单位", "采用", "得分"] : ["排名", "单位", "报送", "采用", "得分"];
    table.appendChild(el("thead", {}, [el("tr", {}, heads.map(function (head, i) {
      return el("th", { "class": i === 1 || (officers && i === 2) ? "name" : "" }, [head]);
    }))]));
    var body = el("tbody");
    rows.forEach(function (row) {
      var id = row.unit_id && !officers ? row.unit_id : row.officer_id;
      var before = previous[key + "/" + id];
      var name = officers ? row.officer_name : row.unit_name;
      var tr = el("tr", { "data-id": id, "data-rank": row.rank }, [
        el("td", {}, [el("span", { "class": "badge r" + row.rank }, [row.rank])]),
        el("td", { "class": "name", title: name }, [name]),
        officers ? el("td", { "class": "name small", title: row.unit_name }, [row.unit_name])
                 : el("td", {}, [row.submitted]),
        el("td", {}, [row.adopted]),
        el("td", { "class": "points" + (row.net_points < 0 ? " negative" : "") }, [row.net_points])]);
      if (before !== undefined && before !== row.net_points) { tr.classList.add("changed"); }
      previous[key + "/" + id] = row.net_points;
      body.appendChild(tr);
    });
    table.appendChild(body);
    return table;
  }

  function renderBoards(board, containerId, key) {
    var box = document.getElementById(containerId);
    box.replaceChildren();
    if (!board.categories.length) { box.appendChild(el("div", { "class": "empty" }, ["暂无参评单位"])); }
    board.categories.forEach(function (category) {
      var board = el("div", { "class": "board " + category.kind }, [
        el("h3", {}, [category.name + "（" + category.rows.length + "个）", el("span", { "class": "page" })]),
        el("div", { "class": "board-body" }, [rankTable(category.rows, key + "/" + category.kind, false)])]);
      // a category of a few units keeps its natural height; the large ones share what is left
      board.style.flex = category.rows.length <= 4 ? "0 0 auto" : "1 1 0";
      box.appendChild(board);
    });
  }

  // A board longer than the screen shows a page of whole rows at a time and turns the page every
  // PAGE_SECONDS, so every unit comes up on the wall; the page number shows in its heading.
  var PAGE_SECONDS = 12;
  var pageTurns = 0;

  function fitRows() {
    document.querySelectorAll(".board-body").forEach(function (body) {
      var rows = Array.prototype.slice.call(body.querySelectorAll("tbody tr"));
      rows.forEach(function (tr) { tr.hidden = false; });
      var limit = body.getBoundingClientRect().bottom + 1, perPage = rows.length;
      for (var i = 0; i < rows.length; i++) {
        if (rows[i].getBoundingClientRect().bottom > limit) { perPage = Math.max(1, i); break; }
      }
      var pages = Math.ceil(rows.length / perPage) || 1, page = pageTurns % pages;
      rows.forEach(function (tr, index) { tr.hidden = Math.floor(index / perPage) !== page; });
      var marker = body.parentNode.querySelector(".page");
      if (marker) { marker.textContent = pages > 1 ? (page + 1) + "/" + pages : ""; }
    });
  }

  function renderChart() {
    var box = document.getElementById("chart");
    var width = Math.max(box.clientWidth, 300), height = Math.max(box.clientHeight, 200);
    var rows = data.year.overall.slice(0, Math.max(3, Math.min(12, Math.floor((height - 30) / 30))));
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "年度单位得分" });
    if (!rows.length) { box.replaceChildren(el("div", { "class": "empty" }, ["暂无数据"])); return; }
    var labelWidth = Math.min(230, width * 0.36), valueWidth = 64, top = 4, legend = 26;
    var band = (height - top - legend) / rows.length, barHeight = Math.min(26, band * 0.7);
    var max = Math.max(1, Math.max.apply(null, rows.map(function (r) { return r.net_points; })));
    var min = Math.min(0, Math.min.apply(null, rows.map(function (r) { return r.net_points; })));
    var span = width - labelWidth - valueWidth - 8, scale = span / (max - min), zero = labelWidth + (-min) * scale;
    chart.appendChild(svg("line", { x1: zero, x2: zero, y1: top, y2: height - legend, stroke: "#3d6aa8" }));
    rows.forEach(function (row, i) {
      var y = top + i * band + (band - barHeight) / 2, w = Math.abs(row.net_points) * scale;
      var x = row.net_points >= 0 ? zero : zero - w;
      var fit = Math.floor((labelWidth - 12) / 18);
      var name = row.unit_name.length > fit ? row.unit_name.slice(0, fit - 1) + "…" : row.unit_name;
      chart.appendChild(svg("text", { x: labelWidth - 8, y: y + barHeight * 0.78, "text-anchor": "end",
        "class": "label" }, name));
      chart.appendChild(svg("rect", { x: x, y: y, width: Math.max(w, 1.5), height: barHeight, rx: 3,
        fill: row.net_points < 0 ? "#ff6b6b" : KIND_COLORS[row.kind] || "#4cc3ff", "data-id": row.unit_id }));
      chart.appendChild(svg("text", { x: (row.net_points >= 0 ? zero + w : zero) + 6, y: y + barHeight * 0.78,
        "class": "value" }, row.net_points));
    });
    var lx = labelWidth;
    Object.keys(KIND_COLORS).forEach(function (kind) {
      if (!data.year.overall.some(function (r) { return r.kind === kind; })) { return; }
      chart.appendChild(svg("rect", { x: lx, y: height - 18, width: 16, height: 14, rx: 2, fill: KIND_COLORS[kind] }));
      chart.appendChild(svg("text", { x: lx + 22, y: height - 5, "class": "legend" }, KIND_NAMES[kind]));
      lx += 80;
    });
    box.replaceChildren(chart);
  }

  // --- 约稿: the open solicitations, soonest deadline first, each with a countdown to its deadline ---
  // The JSON changes only when the projection moves, so the countdown is worked out here, on the
  // screen's clock, and refreshed by tick(); a deadline passed while the office has not closed it yet shows as 已截止.
  function solicitationDue(deadline, now) {
    var left = Date.parse(deadline) - now.getTime();
    if (left <= 0) { return { text: "已截止", cls: "due over" }; }
    var hours = Math.floor(left / 3600000), days = Math.floor(hours / 24);
    if (days >= 1) { return { text: "剩 " + days + " 天", cls: days <= 2 ? "due soon" : "due" }; }
    return { text: "剩 " + Math.max(1, hours) + " 小时", cls: "due soon" };
  }

  function renderSolicitations() {
    var rows = data.solicitations || [], now = new Date();
    var panel = document.getElementById("solicit-panel"), list = document.getElementById("solicitations");
    panel.hidden = rows.length === 0;
    setText("solicit-count", rows.length ? "（" + rows.length + "项）" : "");
    list.replaceChildren.apply(list, rows.map(function (row) {
      var due = solicitationDue(row.deadline, now);
      return el("li", { "data-id": row.solicitation_id }, [
        el("span", { "class": "title", title: row.title }, [row.title]),
        el("span", { "class": "deadline" }, ["截止 " + row.deadline_local]),
        el("span", { "class": "answered" }, ["已报 " + row.answered + "/" + row.asked]),
        el("span", { "class": due.cls, "data-deadline": row.deadline }, [due.text])]);
    }));
  }

  function render() {
    setText("period-names", data.quarter.name + " · " + data.year.name +
      (data.chosen_by === "latest_data" ? "（本年度暂无数据，显示最近一期）" : ""));
    setText("quarter-name", data.quarter.name);
    setText("year-name", data.year.name);
    renderKpis();
    renderSolicitations();
    renderBoards(data.quarter, "quarter-boards", "q");
    renderBoards(data.year, "year-boards", "y");
    var officers = document.getElementById("officers");
    officers.replaceWith(rankTable(data.officers.rows, "o", true));
    document.querySelector(".officer-panel table").id = "officers";
    setText("updated", "数据更新于 " + data.updated_at);
    setText("position", "事件位置 " + data.position);
    renderChart();
    fitRows();
    document.body.setAttribute("data-position", data.position);
  }

  // The district's time (KAOHE_TIMEZONE), whatever zone the screen's computer is set to.
  function localParts(moment) {
    var parts = {};
    new Intl.DateTimeFormat("en-US", { timeZone: config.timezone, hourCycle: "h23", year: "numeric",
      month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", weekday: "short" })
      .formatToParts(moment).forEach(function (part) { parts[part.type] = part.value; });
    return parts;
  }

  function clock(moment) {
    var p = localParts(moment);
    return p.hour + ":" + p.minute + ":" + p.second;
  }

  function tick() {
    var now = new Date(), p = localParts(now);
    var weekday = { Sun: "日", Mon: "一", Tue: "二", Wed: "三", Thu: "四", Fri: "五", Sat: "六" }[p.weekday];
    setText("clock-time", clock(now));
    setText("clock-date", p.year + "年" + p.month + "月" + p.day + "日 星期" + weekday);
    document.querySelectorAll("#solicitations [data-deadline]").forEach(function (node) {
      var due = solicitationDue(node.getAttribute("data-deadline"), now);
      node.textContent = due.text;
      node.className = due.cls;
    });
  }

  function checked() {
    setText("checked", "自动刷新 · 最近检查 " + clock(new Date()));
  }

  // Sign-in (signin.js): the key of this browser session on every request of the page.
  function requestHeaders() {
    var headers = etag ? { "If-None-Match": etag } : {};
    return window.kaoheAuth ? window.kaoheAuth.headers(headers) : headers;
  }

  // 401/403: the key is unknown, revoked or not allowed; ask for another, then start again.
  function signedOut(status) {
    etag = null;
    document.getElementById("status").className = "status stale";
    window.kaoheAuth.refused(status, start);
  }

  // One conditional GET of the page's answer: a 304 when nothing it shows has changed. Resolves to
  // false when the key was refused (the sign-in form is then showing).
  function refresh() {
    var refusedWith = null;
    return fetch(config.endpoint, { headers: requestHeaders(), cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 304) { return null; }
        if (response.status === 401 || response.status === 403) { refusedWith = response.status; return null; }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        etag = response.headers.get("ETag");
        return response.json();
      })
      .then(function (answer) {
        checked();
        if (answer) { data = answer; render(); }
      })
      .catch(function () { document.getElementById("status").className = "status stale"; })
      .then(function () {
        if (refusedWith) { signedOut(refusedWith); return false; }
        return true;
      });
  }

  function poll() {
    document.body.setAttribute("data-updates", "poll");
    refresh().then(function (signedIn) {
      if (signedIn) { window.setTimeout(poll, config.refresh_seconds * 1000); }
    });
  }

  // Pushed updates: the year's ranking stream (server-sent events) says when the projection moved, and
  // the page then refreshes at once instead of waiting for its next poll. Without EventSource, or when
  // the stream fails (a refused key, a proxy that buffers, the service restarting), the page polls.
  // EventSource sends no headers, so a signed-in key goes in `access_token` (see streamKey).
  function listen() {
    if (typeof window.EventSource !== "function" || !data) { return false; }
    var url = "v1/rankings/units/stream?period=" + encodeURIComponent(data.year.period), key = streamKey();
    if (key) { url += "&access_token=" + encodeURIComponent(key); }
    var source = new EventSource(url);
    source.addEventListener("ranking", function () {
      document.body.setAttribute("data-updates", "stream");
      refresh();
    });
    source.onerror = function () { source.close(); poll(); };
    return true;
  }

  // The key the page was signed in with, if any (null: public reads).
  function streamKey() { return window.kaoheAuth ? window.kaoheAuth.key() : null; }

  // After the first answer: follow the stream, else poll.
  function follow() {
    if (!listen()) { window.setTimeout(poll, config.refresh_seconds * 1000); }
  }

  // The server sends the first answer inline when it could (public reads or a bearer header);
  // otherwise the page signs in with the session's key, or asks for one.
  function start() {
    if (data) {
      render();
      follow();
    } else if (window.kaoheAuth && window.kaoheAuth.key()) {
      refresh().then(function (signedIn) { if (signedIn) { follow(); } });
    } else if (window.kaoheAuth) {
      window.kaoheAuth.ask("", start);
    }
  }

  tick();
  checked();
  window.setInterval(tick, 1000);
  window.addEventListener("resize", function () { if (data) { render(); } });
  window.setInterval(function () { pageTurns += 1; if (data) { fitRows(); } }, PAGE_SECONDS * 1000);
  start();
}());
