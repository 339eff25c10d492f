// Formatting shared by the sandbox console and the dashboard: Russian durations and times,
// Slack mrkdwn to safe HTML, and JSON requests that turn the API's error bodies into messages.

export const TIME_ZONE = "Europe/Moscow"; // the shop's business time, whatever the browser's zone

const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

// "3 с", "12 мин", "1 ч 5 мин", "2 д 4 ч": short, like an operator writes it.
export function durationRu(seconds) {
  const s = Math.max(0, Math.round(Math.abs(seconds)));
  if (s < 60) return `${s} с`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} мин`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} ч ${minutes % 60} мин` : `${hours} ч`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} д ${hours % 24} ч` : `${days} д`;
}

// "через 12 мин" / "12 мин назад" / "сейчас", relative to nowMs (the server's clock if known).
export function relativeRu(iso, nowMs) {
  if (!iso) return "";
  const delta = (Date.parse(iso) - nowMs) / 1000;
  if (Math.abs(delta) < 30) return "сейчас";
  return delta > 0 ? `через ${durationRu(delta)}` : `${durationRu(delta)} назад`;
}

const TIME_FORMAT = new Intl.DateTimeFormat("ru-RU", {
  timeZone: TIME_ZONE,
  hour: "2-digit",
  minute: "2-digit",
});
const DATE_TIME_FORMAT = new Intl.DateTimeFormat("ru-RU", {
  timeZone: TIME_ZONE,
  day: "2-digit",
  month: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

export function timeRu(value) {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? "" : TIME_FORMAT.format(date);
}

export function dateTimeRu(value) {
  if (!value) return "";
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : DATE_TIME_FORMAT.format(date);
}

// Slack's message ts is "<unix seconds>.<sequence>".
export function slackTsTime(ts) {
  const seconds = Number.parseFloat(ts);
  return Number.isFinite(seconds) ? timeRu(new Date(seconds * 1000)) : "";
}

// Slack mrkdwn -> HTML. Text is escaped first; <...> control sequences (links, mentions) become
// placeholders so that *bold* around a link still works and nothing from the text is ever markup.
// `people` maps user ids to names: a mention <@U…> reads "@Анна", as Slack draws it, not the id.
export function slackMrkdwn(text, people = {}) {
  const controls = [];
  const hold = (htmlPiece) => `\u0000${controls.push(htmlPiece) - 1}\u0000`;
  let out = String(text ?? "")
    .split(/(<[^<>\n]+>)/)
    .map((part, i) => (i % 2 ? hold(slackControl(part.slice(1, -1), people)) : escapeHtml(unslack(part))))
    .join("");
  out = out.replace(/```([\s\S]+?)```/g, (_, code) => hold(`<pre>${code}</pre>`));
  out = out.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${code}</code>`));
  out = out
    .replace(/(^|[^\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])/g, "$1<b>$2</b>")
    .replace(/(^|[^\w])_(?!\s)([^_\n]+?)_(?!\w)/g, "$1<i>$2</i>")
    .replace(/(^|[^\w~])~(?!\s)([^~\n]+?)~(?![\w~])/g, "$1<s>$2</s>")
    .replace(/\n/g, "<br>");
  return out.replace(/\u0000(\d+)\u0000/g, (_, n) => controls[Number(n)]);
}

function unslack(text) {
  // Slack texts carry &amp; &lt; &gt; as escapes; decode them so escapeHtml does not double them.
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function slackControl(inner, people) {
  const [target, label] = inner.split("|", 2);
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const name = Object.hasOwn(people, id) ? people[id] : label || id;
    return `<span class="sk-mention" title="${escapeHtml(id)}">@${escapeHtml(name)}</span>`;
  }
  if (target.startsWith("#")) return `<span class="sk-mention">#${escapeHtml(label || target.slice(1))}</span>`;
  if (target.startsWith("!")) {
    const word = target.slice(1).split("^")[0];
    return `<span class="sk-mention">${escapeHtml(label || `@${word}`)}</span>`;
  }
  if (/^(https?:|mailto:)/i.test(target)) {
    const href = escapeHtml(unslack(target));
    return `<a href="${href}" target="_blank" rel="noopener noreferrer">${escapeHtml(unslack(label || target))}</a>`;
  }
  return escapeHtml(unslack(inner));
}

export class RequestError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// fetch + JSON both ways; a non-2xx answer raises RequestError with the API's own message.
export async function requestJson(method, path, { body, headers } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new RequestError(0, `нет связи с сервисом (${error.message})`, null);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && (data.message || data.error)) || `HTTP ${response.status}`;
    throw new RequestError(response.status, message, data);
  }
  return data;
}
