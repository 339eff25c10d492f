// The chat panes of the sandbox console: a Slack channel per store (Block Kit drawn the way
// Slack draws it, a staff member to answer as) and a Telegram chat per person (bubbles, inline
// keyboards, photos, a command box). They hold no state of the world: they draw what
// /sandbox/api/state says and hand each click or message to `act(label, route, body)`.
import { html, useLayoutEffect, useRef, useState } from "./vendor/htm-preact-standalone.mjs";
import { escapeHtml, slackMrkdwn, slackTsTime, timeRu } from "./format.js";

const QUICK_COMMANDS = ["/status", "/tasks", "/stock", "/report"];
const ROLE_TITLES = { owner: "владелец", manager: "менеджер" };

const initials = (name) =>
  String(name || "?")
    .replace(/\(.*?\)/g, "") // "Ольга (владелец)" -> "О"
    .trim()
    .split(/\s+/)
    .map((word) => word[0])
    .join("")
    .slice(0, 2)
    .toUpperCase();

// Keeps a scrolling list pinned to its newest item unless the reader scrolled up.
function useStickToBottom(count) {
  const box = useRef(null);
  const pinned = useRef(true);
  const onScroll = () => {
    const el = box.current;
    pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
  };
  const settle = () => {
    if (pinned.current && box.current) box.current.scrollTop = box.current.scrollHeight;
  };
  useLayoutEffect(settle, [count]);
  return { box, onScroll, settle };
}

// ---- Slack ----------------------------------------------------------------------------------

function blockText(text, people) {
  if (!text) return "";
  return text.type === "plain_text" ? escapeHtml(text.text) : slackMrkdwn(text.text, people);
}

// The store's staff by Slack user id: mentions read as their names, as Slack shows them.
const staffNames = (store) => Object.fromEntries((store.staff || []).map((person) => [person.id, person.name]));

function SlackButton({ button, busy, onPress, testid }) {
  const style = button.style ? `sk-button sk-${button.style}` : "sk-button";
  return html`<button
    class=${style}
    data-testid=${testid}
    data-action-id=${button.action_id}
    disabled=${busy}
    onClick=${() => onPress(button)}
  >
    ${button.text}
  </button>`;
}

function blockButton(element) {
  return { text: element.text?.text ?? "", action_id: element.action_id, value: element.value ?? "", style: element.style };
}

function SlackBlock({ block, button, people }) {
  switch (block.type) {
    case "header":
      return html`<div class="sk-header">${block.text?.text}</div>`;
    case "divider":
      return html`<hr class="sk-divider" />`;
    case "image":
      return html`<img class="sk-image" src=${block.image_url} alt=${block.alt_text || ""} />`;
    case "context":
      return html`<div class="sk-context">
        ${(block.elements || []).map((element) =>
          element.type === "image"
            ? html`<img class="sk-context-img" src=${element.image_url} alt=${element.alt_text || ""} />`
            : html`<span dangerouslySetInnerHTML=${{ __html: blockText(element, people) }} />`,
        )}
      </div>`;
    case "actions":
      return html`<div class="sk-actions">
        ${(block.elements || []).filter((e) => e.type === "button").map((e) => button(blockButton(e)))}
      </div>`;
    case "section": {
      const accessory = block.accessory;
      return html`<div class="sk-section">
        <div class="sk-section-body">
          ${block.text && html`<div class="sk-text" dangerouslySetInnerHTML=${{ __html: blockText(block.text, people) }} />`}
          ${block.fields &&
          html`<div class="sk-fields">
            ${block.fields.map((field) => html`<div dangerouslySetInnerHTML=${{ __html: blockText(field, people) }} />`)}
          </div>`}
        </div>
        ${accessory?.type === "button" && button(blockButton(accessory))}
        ${accessory?.type === "image" && html`<img class="sk-accessory-img" src=${accessory.image_url} alt="" />`}
      </div>`;
    }
    default:
      return block.text?.text ? html`<div class="sk-text" dangerouslySetInnerHTML=${{ __html: blockText(block.text, people) }} />` : null;
  }
}

function SlackMessage({ store, message, busyKey, onPress }) {
  const blocks = message.blocks || [];
  const people = staffNames(store);
  // Buttons drawn by the blocks themselves; message.buttons adds only those they do not draw.
  const inBlocks = new Set();
  const styles = {};
  for (const block of blocks) {
    const elements = block.type === "actions" ? block.elements || [] : [];
    for (const element of [...elements, block.accessory || {}]) {
      if (element.type !== "button") continue;
      inBlocks.add(`${element.action_id}|${element.value ?? ""}`);
      if (element.style) styles[element.action_id] = element.style;
    }
  }
  const button = (b) => {
    const key = `${b.action_id}|${b.value}`;
    const full = { ...b, style: b.style || styles[b.action_id] };
    const testid = `slack-btn-${store.code}-${message.ts}-${b.action_id}`;
    return html`<${SlackButton} key=${key} button=${full} testid=${testid} busy=${busyKey === `${message.ts}|${key}`} onPress=${(pressed) => onPress(message, pressed)} />`;
  };
  // Slack writes "(edited)" right after the text; after the last block when there are blocks. It tells when the
  // edit was made (a question closed), not when the message was first posted.
  const editedAt = message.edited_ts ? ` ${slackTsTime(message.edited_ts)}` : "";
  const editedText = `(изменено${editedAt})`;
  const edited = message.edited ? ` <span class="sk-edited" data-testid="slack-edited">${editedText}</span>` : "";
  const body = blocks.length
    ? blocks.map((block, i) => html`<${SlackBlock} key=${i} block=${block} button=${button} people=${people} />`)
    : html`<div class="sk-text" dangerouslySetInnerHTML=${{ __html: slackMrkdwn(message.text, people) + edited }} />`;
  const rest = (message.buttons || []).filter((b) => !inBlocks.has(`${b.action_id}|${b.value}`));
  return html`<div class="sk-message" data-testid=${`slack-msg-${store.code}-${message.ts}`} data-ts=${message.ts}>
    <div class="sk-avatar" aria-hidden="true">so</div>
    <div class="sk-content">
      <div class="sk-meta">
        <span class="sk-name">storeops</span><span class="sk-app">APP</span>
        <span class="sk-time">${slackTsTime(message.ts)}</span>
      </div>
      ${body}
      ${rest.length > 0 && html`<div class="sk-actions">${rest.map(button)}</div>`}
      ${message.edited && blocks.length > 0 && html`<span class="sk-edited" data-testid="slack-edited">${editedText}</span>`}
    </div>
  </div>`;
}

export function StorePane({ store, act }) {
  const staff = store.staff || [];
  const [chosen, setChosen] = useState(staff[0]?.id ?? "");
  const [busyKey, setBusyKey] = useState(null);
  const user = staff.some((person) => person.id === chosen) ? chosen : staff[0]?.id ?? "";
  const who = staff.find((person) => person.id === user)?.name || user;
  const messages = store.messages || [];
  const { box, onScroll } = useStickToBottom(messages.length);
  const onPress = async (message, button) => {
    setBusyKey(`${message.ts}|${button.action_id}|${button.value}`);
    const body = { channel: store.channel, ts: message.ts, action_id: button.action_id, value: button.value, user };
    await act(`Slack #${store.title}: ${who} нажимает «${button.text}»`, "slack/press", body);
    setBusyKey(null);
  };
  return html`<section class="sk-pane" data-testid=${`slack-pane-${store.code}`} data-channel=${store.channel}>
    <header class="sk-pane-head">
      <span class="sk-channel"># ${store.title}</span>
      <span class="sk-channel-id">${store.channel}</span>
      <label class="sk-as">
        отвечает
        <select data-testid=${`slack-user-${store.code}`} value=${user} onChange=${(e) => setChosen(e.currentTarget.value)}>
          ${staff.map((person) => html`<option key=${person.id} value=${person.id}>${person.name}</option>`)}
        </select>
      </label>
    </header>
    <div class="sk-messages" ref=${box} onScroll=${onScroll}>
      ${messages.length === 0 && html`<p class="empty">В канале пока тихо.</p>`}
      ${messages.map((message) => html`<${SlackMessage} key=${message.ts} store=${store} message=${message} busyKey=${busyKey} onPress=${onPress} />`)}
    </div>
  </section>`;
}

// ---- Telegram -------------------------------------------------------------------------------

function TgMessage({ person, message, onPress, settle }) {
  const mine = message.from === "user";
  const id = `${person.id}-${message.message_id}`;
  return html`<div class=${mine ? "tg-row tg-out" : "tg-row tg-in"} data-testid=${`tg-msg-${id}`}>
    <div class="tg-bubble">
      ${message.photo && html`<img class="tg-photo" data-testid=${`tg-photo-${id}`} src=${message.photo} alt="фото" onLoad=${settle} />`}
      ${message.text && html`<div class="tg-text">${message.text}</div>`}
      <span class="tg-time">${message.edited ? "изменено " : ""}${timeRu(message.date)}</span>
    </div>
    ${(message.buttons || []).length > 0 &&
    html`<div class="tg-keyboard">
      ${message.buttons.map(
        (row, r) => html`<div class="tg-kb-row" key=${r}>
          ${row.map(
            (button) => html`<button
              class="tg-kb-button"
              data-testid=${`tg-btn-${id}-${button.data}`}
              onClick=${() => onPress(message, button)}
            >
              ${button.text}
            </button>`,
          )}
        </div>`,
      )}
    </div>`}
  </div>`;
}

export function ChatPane({ person, act }) {
  const [draft, setDraft] = useState("");
  const messages = person.messages || [];
  const { box, onScroll, settle } = useStickToBottom(messages.length);
  const send = (text) => {
    const clean = text.trim();
    if (!clean) return;
    setDraft("");
    act(`Telegram ${person.name}: «${clean}»`, "telegram/send", { user: person.id, text: clean });
  };
  const onPress = (message, button) =>
    act(`Telegram ${person.name}: кнопка «${button.text}»`, "telegram/press", {
      user: person.id,
      message_id: message.message_id,
      data: button.data,
    });
  return html`<section class="tg-chat" data-testid=${`tg-chat-${person.id}`}>
    <header class="tg-head">
      <div class=${`tg-avatar tg-${person.role}`}>${initials(person.name)}</div>
      <div>
        <div class="tg-name">${person.name}</div>
        <div class="tg-role">${ROLE_TITLES[person.role] || person.role} · бот storeops</div>
      </div>
    </header>
    <div class="tg-messages" ref=${box} onScroll=${onScroll}>
      ${messages.length === 0 && html`<p class="empty">Сообщений нет. Напишите боту /help.</p>`}
      ${messages.map((message) => html`<${TgMessage} key=${message.message_id} person=${person} message=${message} onPress=${onPress} settle=${settle} />`)}
    </div>
    <div class="tg-quick">
      ${QUICK_COMMANDS.map(
        (command) => html`<button key=${command} class="tg-quick-button" data-testid=${`tg-quick-${person.id}-${command.slice(1)}`} onClick=${() => send(command)}>
          ${command}
        </button>`,
      )}
    </div>
    <form
      class="tg-compose"
      onSubmit=${(e) => {
        e.preventDefault();
        send(draft);
      }}
    >
      <input
        data-testid=${`tg-input-${person.id}`}
        placeholder="Сообщение или команда, например /stock КР-7/2"
        value=${draft}
        onInput=${(e) => setDraft(e.currentTarget.value)}
      />
      <button type="submit" class="tg-send" data-testid=${`tg-send-${person.id}`} title="Отправить">➤</button>
    </form>
  </section>`;
}
