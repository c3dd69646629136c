// The lro dashboard: the list of operations and the page of one operation.
// Plain JavaScript, no dependencies. Data comes from ./-/api/ on the same origin;
// every value is put in the page as text, never as HTML.
"use strict";

const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
const BASE = meta("lro-base");
const CSRF = meta("lro-csrf");
const LIST_REFRESH_MS = 5000;
const OPERATION_REFRESH_MS = 2000;
const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: {"content-type": "application/json", "x-csrf-token": CSRF},
    body: JSON.stringify(body),
  };
  const response = await fetch(`${BASE}-/api/${path}`, {credentials: "same-origin", ...options});
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    throw new Error(`the server answered ${response.status}`);
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new Error(`${error.status || response.status}: ${error.message || "request failed"}`);
  }
  return data;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function pad(number) {
  return String(number).padStart(2, "0");
}

function localTime(text) {
  if (!text) return "";
  const t = new Date(text);
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ` +
    `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
}

function timeCell(text) {
  return element("time", {datetime: text || "", title: text || ""}, localTime(text));
}

function badge(status) {
  return element("span", {class: `badge ${status}`}, status);
}

function progressBar(percent) {
  if (percent === null || percent === undefined) return element("span", {class: "muted"}, "—");
  const bar = element("progress", {max: "100", value: String(percent)});
  return element("span", {class: "progress-cell"}, bar, `${Math.round(percent)}%`);
}

function shortType(type) {
  return type ? type.split(".").pop() : "";
}

function pageUrl(name) {
  return BASE + name.split("/").map(encodeURIComponent).join("/");
}

function every(milliseconds, enabled, task) {
  let busy = false;
  setInterval(async () => {
    if (busy || document.hidden || !enabled()) return;
    busy = true;
    try {
      await task();
    } finally {
      busy = false;
    }
  }, milliseconds);
}

// The list ------------------------------------------------------------------------------

const list = {tokens: [""], index: 0, next: ""};

function listQuery() {
  const params = new URLSearchParams(location.search);
  return {collection: params.get("collection") || "operations", filter: params.get("filter") || ""};
}

function parentOf(name) {
  const at = name.lastIndexOf("/operations/");
  return at > 0 ? name.slice(0, at) : "operations";
}

function listRow(operation) {
  const link = element("a", {href: pageUrl(operation.name)}, operation.name);
  const type = element("span", {title: operation.metadataType}, shortType(operation.metadataType));
  return element("tr", {"data-name": operation.name, "data-status": operation.status},
    element("td", {class: "name"}, link),
    element("td", {}, badge(operation.status)),
    element("td", {class: "code"}, operation.code),
    element("td", {}, timeCell(operation.createTime)),
    element("td", {}, timeCell(operation.updateTime)),
    element("td", {class: "type"}, type),
    element("td", {}, progressBar(operation.progress)));
}

const COLLECTIONS_KEY = "lro.collections";

function usedCollections() {
  try {
    const stored = JSON.parse(localStorage.getItem(COLLECTIONS_KEY) || "[]");
    return Array.isArray(stored) ? stored.filter((item) => typeof item === "string") : [];
  } catch (_) {
    return [];
  }
}

// The chooser offers "operations", the collections used in this browser, and the
// parents of the operations on the page.
function rememberCollections(collection, operations) {
  const used = [collection, ...usedCollections().filter((item) => item !== collection)];
  try {
    localStorage.setItem(COLLECTIONS_KEY, JSON.stringify(used.slice(0, 20)));
  } catch (_) { /* storage may be off; the chooser still offers this page's parents */ }
  const offered = new Set(["operations", ...used, ...operations.map((op) => parentOf(op.name))]);
  const options = [...offered].sort().map((value) => element("option", {value}));
  $("collections").replaceChildren(...options);
}

async function loadList() {
  const {collection, filter} = listQuery();
  const params = new URLSearchParams({collection, filter, pageToken: list.tokens[list.index]});
  let page;
  try {
    page = await api(`operations?${params}`);
  } catch (error) {
    showError(error.message);  // the rows of another query would mislead
    $("operations").tBodies[0].replaceChildren();
    $("empty").hidden = true;
    $("summary").textContent = "";
    return;
  }
  showError("");
  const operations = page.operations || [];
  $("operations").tBodies[0].replaceChildren(...operations.map(listRow));
  $("empty").hidden = operations.length > 0;
  list.next = page.nextPageToken || "";
  $("next").disabled = !list.next;
  $("previous").disabled = list.index === 0;
  $("first").disabled = list.index === 0;
  const shown = operations.length ? `${operations.length} on page ${list.index + 1}` : "";
  $("summary").textContent = shown;
  rememberCollections(collection, operations);
}

function startList() {
  const {collection, filter} = listQuery();
  $("collection").value = collection;
  $("filter").value = filter;
  $("query").addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams({
      collection: $("collection").value.trim() || "operations",
      filter: $("filter").value.trim(),
    });
    history.replaceState(null, "", `${BASE}?${params}`);
    Object.assign(list, {tokens: [""], index: 0});
    loadList();
  });
  $("next").addEventListener("click", () => {
    list.tokens[list.index + 1] = list.next;
    list.index += 1;
    loadList();
  });
  $("previous").addEventListener("click", () => {
    list.index = Math.max(0, list.index - 1);
    loadList();
  });
  $("first").addEventListener("click", () => {
    list.index = 0;
    loadList();
  });
  loadList();
  every(LIST_REFRESH_MS, () => $("auto").checked, loadList);
}

// One operation ---------------------------------------------------------------------------

const NAME = document.querySelector('meta[name="lro-operation"]')?.content || "";
const current = {status: "", gone: false};

function facts(target, entries) {
  const rows = [];
  for (const [label, value] of entries) {
    if (value === null || value === undefined || value === "") continue;
    rows.push(element("dt", {}, label), element("dd", {}, value));
  }
  target.replaceChildren(...rows);
}

function json(value) {
  return JSON.stringify(value, null, 2);
}

function showResult(operation) {
  if (operation.error) {
    $("result-title").textContent = "Error";
    $("result").textContent = json(operation.error);
    $("result").classList.add("failed");
  } else if (operation.response) {
    $("result-title").textContent = "Response";
    $("result").textContent = json(operation.response);
  } else {
    $("result-title").textContent = "Result";
    $("result").textContent = "Not done yet.";
  }
}

function showState(state) {
  if (state.kind === "json") $("state").textContent = json(state.value);
  else if (state.kind === "binary") $("state").textContent = `${state.bytes} bytes (protobuf)`;
  else $("state").textContent = "No state saved.";
}

function showWakeup(data) {
  const wakeup = data.wakeup;
  const runs = [["Attempts", String(data.attempts)], ["Last error", data.lastError || "none"]];
  if (!wakeup) {
    facts($("wakeup"), [["Pending", "none"], ...runs]);
    $("children").replaceChildren();
    return;
  }
  const done = wakeup.children.filter((child) => child.done).length;
  facts($("wakeup"), [
    ["Due", timeCell(wakeup.dueTime)],
    ["Deadline", timeCell(wakeup.deadline)],
    ["Resumes", wakeup.resumes],
    ["Children", wakeup.children.length ? `${done} of ${wakeup.children.length} done` : null],
    ["Children at", wakeup.childEndpoint],
    ...runs,
    ["Claims", String(wakeup.claims)],
    ["Lease holder", wakeup.leaseHolder || "none"],
    ["Lease until", wakeup.leaseExpires ? timeCell(wakeup.leaseExpires) : null],
  ]);
  $("children").replaceChildren(...wakeup.children.map((child) => {
    const status = child.done === null ? "missing" : child.done ? "done" : "running";
    return element("li", {}, badge(status), " ", element("a", {href: pageUrl(child.name)}, child.name));
  }));
}

function showOperation(data) {
  const operation = data.operation;
  current.status = data.status;
  $("status").replaceWith(Object.assign(badge(data.status), {id: "status"}));
  $("cancel").hidden = data.status !== "running";
  $("delete").hidden = false;
  $("progress-row").hidden = data.progress === null;
  if (data.progress !== null) {
    $("progress").value = data.progress;
    $("progress-text").textContent = `${Math.round(data.progress)}%`;
  }
  facts($("facts"), [
    ["Status", data.status],
    ["Code", data.code],
    ["Created", timeCell(data.createTime)],
    ["Updated", timeCell(data.updateTime)],
    ["Resume point", data.resumePoint],
    ["Wait timed out", data.waitTimedOut ? "yes" : null],
  ]);
  $("metadata-type").textContent = data.metadataType;
  $("metadata").textContent = operation.metadata ? json(operation.metadata) : "No metadata.";
  showResult(operation);
  showState(data.state);
  showWakeup(data);
  $("content").hidden = false;
}

async function loadOperation() {
  if (current.gone) return;
  try {
    showOperation(await api(`operation?${new URLSearchParams({name: NAME})}`));
    showError("");
  } catch (error) {
    showError(error.message);
    if (error.message.startsWith("NOT_FOUND")) {
      current.gone = true;
      $("content").hidden = true;
      $("cancel").hidden = true;
      $("delete").hidden = true;
    }
  }
}

function confirmed(text, yes) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yes;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), {once: true});
  });
}

async function act(verb, text, yes, after) {
  if (!(await confirmed(text, yes))) return;
  try {
    await api(verb, {name: NAME});
    await after();
  } catch (error) {
    showError(error.message);
  }
}

function startOperation() {
  $("cancel").addEventListener("click", () => act(
    "cancel", `Cancel ${NAME}? It ends with CANCELLED.`, "Cancel operation", loadOperation));
  $("delete").addEventListener("click", () => act(
    "delete", `Delete ${NAME}? It is removed from the store, not cancelled.`, "Delete",
    async () => { location.assign(BASE); }));
  loadOperation();
  every(OPERATION_REFRESH_MS, () => current.status === "running" && !current.gone, loadOperation);
}

if (document.body.dataset.page === "list") startList();
else startOperation();
