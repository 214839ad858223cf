// The web view's script: no framework, no build. It fetches the server-rendered
// fragments under ui/ with the API token (kept in this tab's sessionStorage), follows a
// running run over its server-sent event stream (read with fetch, since EventSource
// cannot send an Authorization header), and calls the API for the actions.
"use strict";
(function () {
  const KEY = "durable-token";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  let waitingLogin = null;

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    const token = sessionStorage.getItem(KEY);
    if (token) h.Authorization = "Bearer " + token;
    return h;
  }

  function login(message) {
    const form = $("#login");
    form.hidden = false;
    $(".login-error", form).textContent = message || "";
    $("input", form).focus();
    if (!waitingLogin) {
      waitingLogin = new Promise((resolve) => {
        form.onsubmit = (ev) => {
          ev.preventDefault();
          sessionStorage.setItem(KEY, form.token.value);
          form.token.value = "";
          form.hidden = true;
          $(".forget").hidden = false;
          waitingLogin = null;
          resolve();
        };
      });
    }
    return waitingLogin;
  }

  // fetch with the token; a 401 asks for the token and tries again
  async function call(path, options) {
    options = Object.assign({}, options || {});
    for (;;) {
      options.headers = headers(options.extraHeaders);
      const response = await fetch(path, options);
      if (response.status !== 401) return response;
      const body = await response.json().catch(() => ({}));
      const had = sessionStorage.getItem(KEY);
      sessionStorage.removeItem(KEY);
      await login(had ? "That token was refused: " + (body.detail || "") : "");
    }
  }

  async function problem(response) {
    const body = await response.json().catch(() => ({}));
    return (body.error || response.status) + ": " + (body.detail || response.statusText);
  }

  // -- runs list -------------------------------------------------------------------------

  function listQuery() {
    const form = $("#filters");
    const params = new URLSearchParams();
    for (const el of form.elements) {
      if (!el.name || !el.value) continue;
      params.set(el.name, el.value);
    }
    return params;
  }

  async function loadList(cursor) {
    const params = listQuery();
    if (cursor) params.set("cursor", cursor);
    const response = await call("ui/runs?" + params.toString());
    const target = $("#list");
    if (!response.ok) {
      target.innerHTML = "";
      target.textContent = await problem(response);
      return;
    }
    target.innerHTML = await response.text();
    target.dataset.cursor = cursor || "";
  }

  function startList() {
    const form = $("#filters");
    const initial = new URLSearchParams(location.search);
    for (const el of form.elements) if (el.name && initial.has(el.name)) el.value = initial.get(el.name);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      history.replaceState(null, "", "?" + listQuery().toString());
      loadList(null);
    });
    $("#list").addEventListener("click", (ev) => {
      const next = ev.target.closest(".next-page");
      if (next) return loadList(next.dataset.cursor);
      const chip = ev.target.closest(".count");
      if (chip) {
        form.status.value = chip.dataset.status;
        form.requestSubmit();
      }
    });
    loadList(null);
    // live counts and rows: the list is read again every few seconds
    setInterval(() => {
      if (!document.hidden && !waitingLogin) loadList($("#list").dataset.cursor || null);
    }, 3000);
    $("#live").textContent = "counts refresh every 3 s";
  }

  // -- run page ---------------------------------------------------------------------------

  let activeTab = sessionStorage.getItem("durable-tab") || "graph";
  let refreshing = false;
  let again = false;

  // a past generation of a run that continued as new: ?generation=N on the page's URL
  function generation() {
    const n = new URLSearchParams(location.search).get("generation");
    return n ? "?generation=" + encodeURIComponent(n) : "";
  }

  function showTab(name) {
    activeTab = name;
    sessionStorage.setItem("durable-tab", name);
    for (const b of $$(".tab")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
    for (const p of $$(".panel")) p.hidden = p.dataset.panel !== name;
  }

  async function loadRun() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    try {
      const target = $("#run");
      const response = await call("ui/runs/" + encodeURIComponent(target.dataset.run) + generation());
      if (!response.ok) {
        target.textContent = await problem(response);
        return;
      }
      const text = await response.text();
      // what the page holds now (read after the fetch: an action may have answered
      // meanwhile) survives the redraw: open folds, action results, what the user typed
      const open = $$("details[id][open]", target).map((d) => d.id);
      const expanded = $$("tbody.bucket.open", target).map((t) => t.dataset.lo);
      const said = $(".action-result", target);
      const result = said ? said.innerHTML : "";
      const typed = $$(".actions form input", target).map((i) => [i.form.className, i.name, i.value]);
      const active = document.activeElement;
      const focused = active && active.closest && active.closest(".actions form")
        ? [active.form.className, active.name] : null;
      target.innerHTML = text;
      if (result) $(".action-result", target).innerHTML = result;
      for (const [form, name, value] of typed) {
        const input = $("form." + form + ' input[name="' + name + '"]', target);
        if (input) input.value = value;
      }
      if (focused) {
        const input = $("form." + focused[0] + ' input[name="' + focused[1] + '"]', target);
        if (input) input.focus();
      }
      for (const id of open) {
        const d = document.getElementById(id);
        if (d) d.open = true;
      }
      for (const lo of expanded) {
        const body = $('tbody.bucket[data-lo="' + lo + '"]', target);
        if (body) expand(body);
      }
      showTab(activeTab);
    } finally {
      refreshing = false;
      if (again) {
        again = false;
        setTimeout(loadRun, 300);
      }
    }
  }

  async function expand(body, offset) {
    body.classList.add("open");
    $(".expand", body).setAttribute("aria-expanded", "true");
    if (!body.dataset.bucket || (body.dataset.loaded && !offset)) return;
    const params = new URLSearchParams({
      name: body.dataset.bucket, lo: body.dataset.lo, hi: body.dataset.hi, offset: offset || 0,
    });
    const id = $("#run").dataset.run;
    const response = await call("ui/runs/" + encodeURIComponent(id) + "/calls?" + params);
    if (!response.ok) return;
    const rows = document.createElement("tbody");
    rows.innerHTML = await response.text();
    if (!offset) for (const tr of $$("tr:not(.bucket-head)", body)) tr.remove();
    const more = $(".more-row", body);
    if (more) more.remove();
    body.append(...rows.children);
    body.dataset.loaded = "1";
    const next = response.headers.get("X-Next-Offset");
    if (next) {
      const tr = document.createElement("tr");
      tr.className = "more-row";
      tr.innerHTML = '<td colspan="9"><button class="more">load more</button></td>';
      tr.querySelector("button").dataset.offset = next;
      body.append(tr);
    }
  }

  function jump(seq) {
    showTab("table");
    const row = document.getElementById("call-" + seq);
    if (!row) return;
    const bucket = row.closest("tbody.bucket");
    if (bucket) expand(bucket);
    row.scrollIntoView({ block: "center" });
    row.classList.add("flash");
  }

  function say(text, link) {
    const out = $(".action-result");
    out.textContent = text;
    if (link) {
      const a = document.createElement("a");
      a.href = "runs/" + encodeURIComponent(link);
      a.textContent = " open " + link;
      a.className = "new-run";
      out.append(a);
    }
  }

  async function act(path, body, what) {
    const id = $("#run").dataset.run;
    const response = await call("api/runs/" + encodeURIComponent(id) + "/" + path, {
      method: "POST",
      body: body === undefined ? undefined : JSON.stringify(body),
      extraHeaders: body === undefined ? {} : { "Content-Type": "application/json" },
    });
    if (!response.ok) return say(what + " refused: " + (await problem(response)));
    const out = await response.json();
    say(what + ": done", out.id && out.id !== id ? out.id : null);
    await loadRun();
    if (!following) follow(id); // a resumed run runs again: follow it
  }

  async function download() {
    const id = $("#run").dataset.run;
    const response = await call("ui/runs/" + encodeURIComponent(id) + "/export" + generation());
    if (!response.ok) return say("download refused: " + (await problem(response)));
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    const n = new URLSearchParams(location.search).get("generation");
    a.download = "run-" + id + (n ? "-generation-" + n : "") + ".html";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function onRunClick(ev) {
    const t = ev.target;
    const tab = t.closest(".tab");
    if (tab) return showTab(tab.dataset.tab);
    const jumpTo = t.closest("[data-jump]");
    if (jumpTo) {
      ev.preventDefault();
      return jump(jumpTo.dataset.jump);
    }
    const button = t.closest(".expand");
    if (button) {
      const body = button.closest("tbody.bucket");
      if (body.classList.contains("open")) {
        body.classList.remove("open");
        button.setAttribute("aria-expanded", "false");
      } else expand(body);
      return;
    }
    const more = t.closest(".more");
    if (more) return expand(more.closest("tbody.bucket"), more.dataset.offset);
    const action = t.closest("[data-action]");
    if (action && confirm(action.dataset.action + " run " + $("#run").dataset.run + "?")) {
      return act(action.dataset.action, undefined, action.dataset.action);
    }
    const fork = t.closest(".fork");
    if (fork) {
      const seq = Number(fork.dataset.seq);
      const sure = "Fork a new run that reuses the calls before #" + seq +
        " and runs again from call #" + seq + "?";
      if (confirm(sure)) act("fork", { from_step: seq }, "fork from #" + seq);
      return;
    }
    if (t.closest(".download")) return download();
  }

  function jsonOrText(text) {
    try {
      return text === "" ? null : JSON.parse(text);
    } catch (e) {
      return text; // not JSON: sent as text
    }
  }

  // a request waits for the run's reply (at most `wait` seconds): 200 replied, 409
  // rejected (or the run finished), 202 not answered yet (it stays queued)
  async function ask(form) {
    const id = $("#run").dataset.run;
    const name = form.request.value;
    const wait = form.wait.value === "" ? "10" : form.wait.value;
    say("request " + name + ": waiting up to " + wait + " s for the reply");
    const response = await call(
      "api/runs/" + encodeURIComponent(id) + "/requests/" + encodeURIComponent(name) +
        "?wait=" + encodeURIComponent(wait),
      {
        method: "POST",
        body: JSON.stringify(jsonOrText(form.value.value)),
        extraHeaders: { "Content-Type": "application/json" },
      },
    );
    const out = await response.json().catch(() => ({}));
    if (response.status === 200) say("request " + name + " replied: " + JSON.stringify(out.reply));
    else if (response.status === 202) {
      say("request " + name + ": no reply yet (it stays queued as " + out.request_id + ")");
    } else say("request " + name + " refused: " + (out.error || response.status) + ": " + (out.detail || ""));
    await loadRun();
  }

  function onRunSubmit(ev) {
    const request = ev.target.closest("form.ask");
    if (request) {
      ev.preventDefault();
      return ask(request);
    }
    const form = ev.target.closest("form.send");
    if (!form) return;
    ev.preventDefault();
    const value = jsonOrText(form.value.value);
    act("messages", { topic: form.topic.value, value: value }, "message " + form.topic.value);
  }

  function onToggle(ev) {
    const d = ev.target;
    if (!(d instanceof HTMLDetailsElement) || !d.open) return;
    const lazy = d.querySelector(":scope > [data-lazy]");
    if (!lazy || lazy.dataset.done) return;
    lazy.dataset.done = "1";
    call(lazy.dataset.lazy).then(async (r) => {
      lazy.innerHTML = r.ok ? await r.text() : "";
      if (!r.ok) lazy.textContent = await problem(r);
    });
  }

  // the run's server-sent events, read from a fetch body: each one reloads the page's
  // fragment (at most one reload in flight, the next queued)
  let following = false;

  async function follow(id) {
    try {
      await stream(id);
    } finally {
      following = false;
    }
  }

  async function stream(id) {
    const live = $("#live");
    const article = $("#run article");
    if (article && article.dataset.generation) {
      live.textContent = "past generation";
      return; // archived: it never changes
    }
    if (article && ["SUCCEEDED", "FAILED", "CANCELLED"].includes(article.dataset.status)) {
      live.textContent = "finished";
      return; // nothing more happens to it unless an action reopens it
    }
    following = true;
    let last = article && article.dataset.ord !== "-1" ? article.dataset.ord : "";
    for (let tries = 0; tries < 50; tries++) {
      try {
        const response = await call("api/runs/" + encodeURIComponent(id) + "/stream", {
          extraHeaders: last ? { "Last-Event-ID": last } : {},
        });
        if (!response.ok) return;
        live.textContent = "live";
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const event = (block.match(/^event: (.*)$/m) || [])[1];
            const idLine = (block.match(/^id: (.*)$/m) || [])[1];
            if (idLine) last = idLine;
            if (event === "entry" || event === "status") loadRun();
            if (event === "end") {
              live.textContent = "finished";
              loadRun();
              return;
            }
          }
        }
      } catch (e) {
        live.textContent = "reconnecting";
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  function startRun() {
    const target = $("#run");
    target.addEventListener("click", onRunClick);
    target.addEventListener("submit", onRunSubmit);
    target.addEventListener("toggle", onToggle, true);
    loadRun().then(() => follow(target.dataset.run));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const forget = $(".forget");
    forget.hidden = !sessionStorage.getItem(KEY);
    forget.addEventListener("click", () => {
      sessionStorage.removeItem(KEY);
      forget.hidden = true;
      location.reload();
    });
    if (document.body.dataset.page === "list") startList();
    else startRun();
  });
})();
