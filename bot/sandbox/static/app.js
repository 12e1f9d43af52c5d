// The sandbox page: draws each chat as a Telegram client would, from /api/state and the
// event stream /api/events; every action is a POST to /api/<action>. No libraries.
"use strict";

let S = null;            // the page state from /api/state
let cols = [];           // the two private chats' people
const acting = {};       // group chat id -> who speaks there
const $ = (sel, root = document) => root.querySelector(sel);

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "html") el.innerHTML = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) if (child != null) el.append(child);
  return el;
}

const esc = (s) => s.replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const safeUrl = (u) => (/^(https?:|tg:)/i.test(u) ? u : "#");

// Telegram entities (UTF-16 offsets, as JavaScript strings count) to HTML, nested properly.
function formatText(text, entities) {
  const list = (entities || []).slice().sort((a, b) => a.offset - b.offset || b.length - a.length);
  function build(start, end, items) {
    let out = "", pos = start, i = 0;
    while (i < items.length) {
      const e = items[i], stop = e.offset + e.length, inner = [];
      let j = i + 1;
      while (j < items.length && items[j].offset < stop) inner.push(items[j++]);
      out += esc(text.slice(pos, e.offset)) + wrap(e, build(e.offset, stop, inner), text.slice(e.offset, stop));
      pos = stop; i = j;
    }
    return out + esc(text.slice(pos, end));
  }
  return build(0, text.length, list);
}

function wrap(e, inner, raw) {
  switch (e.type) {
    case "bold": return `<b>${inner}</b>`;
    case "italic": return `<i>${inner}</i>`;
    case "underline": return `<u>${inner}</u>`;
    case "strikethrough": return `<s>${inner}</s>`;
    case "spoiler": return `<span class="spoiler">${inner}</span>`;
    case "code": return `<code>${inner}</code>`;
    case "pre": return `<pre>${inner}</pre>`;
    case "blockquote": case "expandable_blockquote": return `<blockquote>${inner}</blockquote>`;
    case "text_link": return `<a href="${esc(safeUrl(e.url))}" target="_blank" rel="noopener">${inner}</a>`;
    case "url": return `<a href="${esc(safeUrl(raw))}" target="_blank" rel="noopener">${inner}</a>`;
    default: return inner;
  }
}

async function post(action, body) {
  const options = body instanceof FormData ? {method: "POST", body}
    : {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const answer = await fetch(`/api/${action}`, options);
  if (!answer.ok) {
    const error = (await answer.json().catch(() => ({}))).error || answer.statusText;
    alert(error);
  }
}

async function load() {
  S = await (await fetch("/api/state")).json();
  if (!cols.length || !cols.every((id) => S.people.some((p) => p.id === id))) cols = S.defaults.slice();
  drawChrome();
  drawColumns();
}

function drawChrome() {
  const L = S.labels;
  document.documentElement.lang = S.lang.replace("_", "-");
  document.title = L.title;
  $("#title").textContent = L.title;
  $("#notice").textContent = L.notice;
  $("#connect").textContent = L.connect;
  $("#offline").textContent = L.reconnecting;
  $("#clock-label").textContent = L.clock;
  $("#clock").textContent = S.clock;
  $("#clock-16").textContent = L.to_16;
  $("#clock-17").textContent = L.to_17;
  $("#clock-next-day").textContent = L.next_day;
  $("#clock-plus-hour").textContent = L.plus_hour;
  $("#reset").textContent = L.reset;
  $("#language-label").textContent = L.language;
  const language = $("#language");
  language.replaceChildren(...S.languages.map(([code, name]) => h("option", {value: code, selected: code === S.lang}, name)));
}

const person = (id) => S.people.find((p) => p.id === id);

function drawColumns() {
  const groups = (S.routes[cols[0]] || []).map(String);
  const sections = [
    ...cols.map((id, index) => privateColumn(index, id)),
    ...groups.map((chatId) => groupColumn(chatId)),
  ];
  if (!groups.length) sections.push(h("section", {class: "chat"}, h("p", {class: "empty"}, S.labels.no_groups)));
  $("#columns").replaceChildren(...sections);
  for (const section of sections) drawMessages(section);
}

function privateColumn(index, id) {
  const select = h("select", {class: "person", onchange: (ev) => { cols[index] = Number(ev.target.value); drawColumns(); }},
    S.people.map((p) => h("option", {value: p.id, selected: p.id === id}, `${p.name} — ${p.label}`)));
  const header = h("header", {}, h("span", {class: "sub"}, S.labels.private), select);
  return chatSection(String(id), header, () => id, "private");
}

function groupColumn(chatId) {
  const group = S.groups[chatId];
  const members = [...group.members, ...S.people.map((p) => p.id).filter((id) => !group.members.includes(id))];
  if (!members.includes(acting[chatId])) acting[chatId] = members.includes(cols[1]) && group.members.includes(cols[1]) ? cols[1] : members[0];
  const select = h("select", {class: "acting", onchange: (ev) => { acting[chatId] = Number(ev.target.value); }},
    members.map((id) => h("option", {value: id, selected: id === acting[chatId]}, person(id).name)));
  const header = h("header", {}, h("span", {class: "title"}, group.title),
    h("label", {class: "sub"}, `${S.labels.acting_as} `, select));
  return chatSection(chatId, header, () => acting[chatId], "group");
}

function chatSection(chatId, header, actor, kind) {
  const text = h("input", {type: "text", class: "compose-text", placeholder: S.labels.write});
  const file = h("input", {type: "file", accept: "image/*", hidden: true, onchange: () => sendPhoto(chatId, actor(), file, text)});
  const send = () => { const value = text.value.trim(); if (value) { post("send", {chat_id: chatId, user_id: actor(), text: value}); text.value = ""; } };
  text.addEventListener("keydown", (ev) => { if (ev.key === "Enter") send(); });
  const compose = h("div", {class: "compose"}, text,
    h("button", {type: "button", class: "send", onclick: send}, S.labels.send),
    h("button", {type: "button", class: "photo", title: S.labels.photo, onclick: () => file.click()}, "📷"),
    h("button", {type: "button", class: "location", title: S.labels.location, onclick: () => sendLocation(chatId, actor())}, "📍"),
    file);
  const section = h("section", {class: `chat ${kind}`, "data-chat": chatId}, header,
    h("div", {class: "messages"}), h("div", {class: "keyboard", hidden: true}), compose, h("div", {class: "toast"}));
  section.actor = actor;
  return section;
}

function sendPhoto(chatId, userId, input, text) {
  if (!input.files.length) return;
  const form = new FormData();
  form.append("chat_id", chatId); form.append("user_id", userId);
  form.append("caption", text.value.trim()); form.append("file", input.files[0]);
  text.value = ""; input.value = "";
  post("photo", form);
}

function sendLocation(chatId, userId) {
  const answer = prompt(S.labels.location_prompt, "39.9289, 116.4166");
  if (!answer) return;
  const [latitude, longitude] = answer.split(/[,\s]+/).map(Number);
  post("location", {chat_id: chatId, user_id: userId, latitude, longitude});
}

function drawMessages(section) {
  const chatId = section.dataset.chat;
  if (!chatId) return;
  const box = $(".messages", section);
  const messages = S.messages[chatId] || [];
  box.replaceChildren(...messages.map((m) => bubble(m, section)));
  box.scrollTop = box.scrollHeight;
  drawKeyboard(section, messages);
}

function bubble(m, section) {
  if (m.joined) return h("div", {class: "joined"}, `${m.joined.join(", ")} ${S.labels.joined}`);
  const parts = [];
  if (m.outgoing && section.classList.contains("group")) parts.push(h("div", {class: "sender"}, m.sender));
  if (m.reply_to) parts.push(h("div", {class: "quote"}, m.reply_to.text || "…"));
  if (m.photo) parts.push(h("img", {src: `/file/${encodeURIComponent(m.photo)}`, alt: S.labels.photo}));
  if (m.document) parts.push(h("a", {class: "doc", href: `/file/${encodeURIComponent(m.document.file_id)}`, download: m.document.file_name}, `📄 ${m.document.file_name}`));
  if (m.location) parts.push(h("span", {class: "loc"}, `📍 ${m.location.latitude.toFixed(5)}, ${m.location.longitude.toFixed(5)}`));
  if (m.other) parts.push(h("span", {class: "doc"}, `[${m.other}]`));
  if (m.text) parts.push(h("div", {class: "text", html: formatText(m.text, m.entities)}));
  const meta = [m.protected ? h("span", {class: "lock", title: S.labels.protected}, "🔒 ") : null,
    m.deleted ? `${S.labels.deleted} · ` : null, m.edited ? `${S.labels.edited} · ` : null, m.time];
  parts.push(h("div", {class: "meta"}, meta));
  if (m.inline_keyboard && !m.deleted) parts.push(inlineKeyboard(m, section));
  const classes = ["msg", m.outgoing ? "out" : "in", m.deleted ? "deleted" : "", m.protected ? "protected" : ""];
  return h("div", {class: classes.join(" ").trim(), "data-message-id": m.message_id}, parts);
}

function inlineKeyboard(m, section) {
  return h("div", {class: "inline"}, m.inline_keyboard.map((row) => h("div", {class: "row"}, row.map((b) => {
    if (b.url) return h("a", {href: safeUrl(b.url), target: "_blank", rel: "noopener"}, b.text);
    if (b.callback_data === undefined) return h("button", {type: "button", disabled: true}, b.text);
    return h("button", {type: "button", "data-callback": b.callback_data,
      onclick: () => post("press", {chat_id: section.dataset.chat, message_id: m.message_id, data: b.callback_data, user_id: section.actor()})}, b.text);
  }))));
}

// The reply keyboard is the last one the bot sent in this chat, until removed or used once.
function drawKeyboard(section, messages) {
  const box = $(".keyboard", section);
  let current = null, usedAfter = false;
  for (const m of messages) {
    if (!m.outgoing && (m.keyboard || m.remove_keyboard)) { current = m.keyboard ? m : null; usedAfter = false; }
    else if (m.outgoing) usedAfter = true;
  }
  if (!current || (current.one_time && usedAfter)) { box.hidden = true; box.replaceChildren(); return; }
  box.hidden = false;
  box.replaceChildren(...current.keyboard.map((row) => h("div", {class: "row"}, row.map((b) => {
    const label = typeof b === "string" ? b : b.text;
    return h("button", {type: "button", class: "reply-button", onclick: () => replyButton(section, b, label)}, label);
  }))));
}

function replyButton(section, button, label) {
  const chatId = section.dataset.chat, userId = section.actor();
  if (button.request_location) sendLocation(chatId, userId);
  else if (button.request_contact) post("contact", {chat_id: chatId, user_id: userId, phone: `+86138${String(userId).padStart(8, "0")}`});
  else post("send", {chat_id: chatId, user_id: userId, text: label});
}

function toast(event) {
  const section = document.querySelector(`section[data-chat="${event.chat_id}"]`);
  if (!section) return;
  const box = $(".toast", section);
  box.textContent = event.text;
  box.className = `toast show${event.alert ? " alert" : ""}`;
  clearTimeout(box.timer);
  box.timer = setTimeout(() => { box.className = "toast"; }, event.alert ? 5000 : 2500);
}

function upsert(m) {
  const list = (S.messages[m.chat_id] = S.messages[m.chat_id] || []);
  const at = list.findIndex((x) => x.message_id === m.message_id);
  if (at >= 0) list[at] = m; else list.push(m);
  for (const section of document.querySelectorAll(`section[data-chat="${m.chat_id}"]`)) drawMessages(section);
}

function listen() {
  const events = new EventSource("/api/events");
  events.onopen = () => { $("#offline").hidden = true; load(); };
  events.onerror = () => { $("#offline").hidden = false; };
  events.onmessage = (raw) => {
    const event = JSON.parse(raw.data);
    if (!S) return;
    if (event.type === "message") upsert(event.message);
    else if (event.type === "toast") toast(event);
    else if (event.type === "clock") $("#clock").textContent = event.text;
    else if (event.type === "reset") { cols = []; load(); }
    else if (event.type === "state") load();
  };
}

for (const button of document.querySelectorAll("[data-clock]")) {
  button.addEventListener("click", () => post("clock", {action: button.dataset.clock}));
}
$("#language").addEventListener("change", (ev) => post("language", {lang: ev.target.value}));
$("#reset").addEventListener("click", () => { if (confirm(S.labels.reset_confirm)) post("reset", {}); });
setInterval(async () => {
  const answer = await fetch("/api/clock").catch(() => null);
  if (answer && answer.ok) $("#clock").textContent = (await answer.json()).text;
}, 20000);
listen();
