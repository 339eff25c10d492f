// The operator's dashboard: read-only health of the running service, from GET /api/dashboard
// every 5 s with the API token as a bearer. The token is asked once and kept in sessionStorage
// (gone when the tab closes); a link may carry it as #token=..., which is removed from the
// address bar at once so it does not stay in the history or get copied along with the URL.
import { html, render, useEffect, useState } from "./vendor/htm-preact-standalone.mjs";
import { dateTimeRu, durationRu, relativeRu, requestJson } from "./format.js";
import { OrderSearch } from "./order_search.js";

const API = "/api/dashboard";
const POLL_MS = 5000;
const TOKEN_KEY = "storeops.apiToken";
const CHANNEL_TITLES = {
  wildberries: "Wildberries",
  ozon: "Ozon",
  yandex_market: "Яндекс Маркет",
  site: "Сайт",
  retailcrm: "RetailCRM",
};
const TASK_KINDS = {
  store_confirmation: "подтверждение магазина",
  fx_approval: "курс валюты",
  fraud_check: "проверка звонком",
  alert: "оповещение",
  unfillable_order: "заказ без товара",
  return_receipt: "приём возврата",
};
const TASK_STATES = { open: "ждёт ответа", answered: "отвечена", expired: "время вышло", cancelled: "отменена" };
const QUEUE_AGE_WARN_S = 300; // an outbox row older than this means the channel is falling behind

function takeTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]*)/.exec(window.location.hash);
  if (!match) return null;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  return decodeURIComponent(match[1]);
}

function initialToken() {
  const fromLink = takeTokenFromFragment();
  if (fromLink) sessionStorage.setItem(TOKEN_KEY, fromLink);
  return fromLink || sessionStorage.getItem(TOKEN_KEY);
}

function channelHealth(channel) {
  if (channel.circuit_open) return ["bad", "не отвечает: запросы приостановлены"];
  if (channel.paused) return ["paused", "на паузе"];
  if (channel.failures_in_row > 0) return ["warn", "ошибки при отправке"];
  if ((channel.oldest_age_s ?? 0) > QUEUE_AGE_WARN_S) return ["warn", "очередь отстаёт"];
  return ["ok", "работает"];
}

function ChannelCard({ channel }) {
  const [health, label] = channelHealth(channel);
  return html`<div class=${`channel-card health-${health}`} data-testid=${`channel-card-${channel.name}`} data-health=${health}>
    <div class="channel-name">${CHANNEL_TITLES[channel.name] || channel.name}</div>
    <div class="channel-state">${label}</div>
    <div class="channel-queue">
      ${channel.outbox_depth
        ? `в очереди ${channel.outbox_depth}${channel.oldest_age_s != null ? `, старейшему ${durationRu(channel.oldest_age_s)}` : ""}`
        : "очередь пуста"}
    </div>
    ${channel.failures_in_row > 0 && html`<div class="channel-queue">ошибок подряд: ${channel.failures_in_row}</div>`}
  </div>`;
}

function Tasks({ tasks, now }) {
  return html`<section class="card">
    <h2 class="card-title">Задачи людей</h2>
    ${tasks.length === 0
      ? html`<p class="empty">Открытых задач нет.</p>`
      : html`<table class="grid" data-testid="tasks">
          <thead><tr><th>№</th><th>Что</th><th>О чём</th><th>Кому</th><th>Срок</th><th>Состояние</th></tr></thead>
          <tbody>
            ${tasks.map((task) => {
              const late = Date.parse(task.deadline) < now;
              return html`<tr key=${task.id} data-testid=${`task-${task.id}`}>
                <td>${task.id}</td>
                <td>${TASK_KINDS[task.kind] || task.kind}</td>
                <td>${task.subject}</td>
                <td>${task.assignee ?? "—"}</td>
                <td class=${late ? "when late" : "when"} title=${dateTimeRu(task.deadline)}>
                  ${late ? `просрочено на ${durationRu((now - Date.parse(task.deadline)) / 1000)}` : relativeRu(task.deadline, now)}
                </td>
                <td title=${task.state}>${TASK_STATES[task.state] || task.state}</td>
              </tr>`;
            })}
          </tbody>
        </table>`}
  </section>`;
}

function Alerts({ alerts, now }) {
  const ordered = [...alerts].sort((a, b) => (a.resolved_at ? 1 : 0) - (b.resolved_at ? 1 : 0));
  return html`<section class="card">
    <h2 class="card-title">Оповещения</h2>
    ${ordered.length === 0 && html`<p class="empty">Оповещений не было.</p>`}
    <ul class="alerts" data-testid="alerts">
      ${ordered.map(
        (alert) => html`<li key=${alert.key} class=${alert.resolved_at ? "alert resolved" : "alert open"} data-testid=${`alert-${alert.key}`}>
          <span class="badge">${alert.resolved_at ? "закрыто" : "открыто"}</span>
          ${alert.text}
          ${alert.count > 1 && html`<span class="count">×${alert.count}</span>`}
          <span class="muted">
            с ${dateTimeRu(alert.opened_at)} (${relativeRu(alert.opened_at, now)})${alert.resolved_at ? `, закрыто ${dateTimeRu(alert.resolved_at)}` : ""}
          </span>
        </li>`,
      )}
    </ul>
  </section>`;
}

function Drift({ drift }) {
  return html`<section class="card">
    <h2 class="card-title">Расхождения с каналами</h2>
    ${drift.length === 0
      ? html`<p class="empty">Сверка расхождений не находила.</p>`
      : html`<table class="grid" data-testid="drift">
          <thead><tr><th>Канал</th><th>Когда</th><th class="num">Исправлено SKU</th></tr></thead>
          <tbody>
            ${drift.map(
              (row, i) => html`<tr key=${i} title=${row.summary || ""}>
                <td>${CHANNEL_TITLES[row.channel] || row.channel}</td>
                <td>${row.at ? dateTimeRu(row.at) : "—"}</td>
                <td class="num">${row.corrected}</td>
              </tr>`,
            )}
          </tbody>
        </table>`}
  </section>`;
}

// The orders' panel follows the service's LOCALE, as its texts (worded by the service) do.
const ORDER_WORDS = {
  ru: {
    title: "Заказы: последние события",
    empty: "Событий по заказам пока не было.",
    when: "Когда", order: "Заказ", what: "Что",
    unfillable_open: "Открытых вопросов «нет товара»",
    returns_awaiting: "Возвратов ждут приёмки",
    to_move_on: "Ждут передачи площадке",
    move_retrying: "из них после сбоя",
    move_refused: "Площадка отказала",
  },
  en: {
    title: "Orders: recent events",
    empty: "No order events yet.",
    when: "When", order: "Order", what: "What",
    unfillable_open: "Out-of-stock questions open",
    returns_awaiting: "Returns awaiting receipt",
    to_move_on: "Waiting to be moved on",
    move_retrying: "of them retrying after a failure",
    move_refused: "Refused by the marketplace",
  },
};
const ORDER_COUNTERS = ["unfillable_open", "returns_awaiting", "to_move_on", "move_retrying", "move_refused"];
const TROUBLE_COUNTERS = new Set(["move_retrying", "move_refused"]); // need someone when above zero
const TROUBLE_STEP = /cancel|refused|defective|not_received|dropped/;

function OrderSteps({ steps, counters, locale }) {
  const words = ORDER_WORDS[locale] || ORDER_WORDS.ru;
  return html`<section class="card wide" data-testid="orders-panel">
    <h2 class="card-title">${words.title}</h2>
    <div class="order-counters" data-testid="order-counters">
      ${ORDER_COUNTERS.map((name) => {
        const value = counters?.[name] ?? 0;
        const trouble = value > 0 && TROUBLE_COUNTERS.has(name);
        return html`<div key=${name} class=${trouble ? "order-counter trouble" : "order-counter"} data-testid=${`order-counter-${name}`}>
          ${words[name]}: <span class="order-counter-value">${value}</span>
        </div>`;
      })}
    </div>
    ${steps.length === 0
      ? html`<p class="empty">${words.empty}</p>`
      : html`<table class="grid" data-testid="order-events">
          <thead><tr><th>${words.when}</th><th>${words.order}</th><th>${words.what}</th></tr></thead>
          <tbody>
            ${steps.map(
              (step, i) => html`<tr key=${i} class=${TROUBLE_STEP.test(step.kind) ? "order-step trouble" : "order-step"}
                  data-testid=${`order-event-${i}`} data-kind=${step.kind} title=${step.kind}>
                <td class="when">${dateTimeRu(step.at)}</td>
                <td class="when">${CHANNEL_TITLES[step.channel] || step.channel} ${step.external_id} <span class="muted">#${step.order_id}</span></td>
                <td>${step.text}</td>
              </tr>`,
            )}
          </tbody>
        </table>`}
  </section>`;
}

function figure(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return value.toLocaleString("ru-RU");
  if (typeof value === "boolean") return value ? "да" : "нет";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function Report({ report, chart }) {
  const entries = Object.entries(report || {});
  return html`<section class="card">
    <h2 class="card-title">Отчёт владельцу за сегодня</h2>
    ${entries.length === 0 && html`<p class="empty">Цифр пока нет.</p>`}
    <table class="grid figures" data-testid="report">
      <tbody>
        ${entries.map(([key, value]) => html`<tr key=${key}><th>${key}</th><td class="num">${figure(value)}</td></tr>`)}
      </tbody>
    </table>
    ${chart && html`<img class="chart" data-testid="report-chart" src=${chart} alt="график отчёта" />`}
  </section>`;
}

// The chart is behind the token too, so an <img src> cannot fetch it: fetch it, show a blob URL.
function useAuthorisedImage(url, token) {
  const [objectUrl, setObjectUrl] = useState(null);
  useEffect(() => {
    if (!url || !token) {
      setObjectUrl(null);
      return undefined;
    }
    let made = null;
    let cancelled = false;
    fetch(url, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" })
      .then((response) => (response.ok ? response.blob() : null))
      .then((blob) => {
        if (!blob || cancelled) return;
        made = URL.createObjectURL(blob);
        setObjectUrl(made);
      })
      .catch(() => setObjectUrl(null));
    return () => {
      cancelled = true;
      if (made) URL.revokeObjectURL(made);
    };
  }, [url, token]);
  return objectUrl;
}

function TokenForm({ message, onToken }) {
  const [value, setValue] = useState("");
  return html`<form
    class="token-form card"
    data-testid="token-form"
    onSubmit=${(e) => {
      e.preventDefault();
      if (value.trim()) onToken(value.trim());
    }}
  >
    <h1>Панель оператора storeops</h1>
    <p>Введите API_TOKEN сервиса (он в файле <code>.env</code>). Токен хранится только в этой вкладке.</p>
    ${message && html`<p class="form-error" data-testid="token-error" role="alert">${message}</p>`}
    <input type="password" autocomplete="off" data-testid="token-input" placeholder="API_TOKEN" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
    <button type="submit" data-testid="token-submit">Войти</button>
  </form>`;
}

function Dashboard({ data, token, problem, fetchedAt, onLogout }) {
  const served = data.at || data.now; // the service's time: the sandbox's clock runs ahead of ours
  const skew = served ? Date.parse(served) - fetchedAt : 0;
  const now = Date.now() + skew;
  const chart = useAuthorisedImage(data.report_png, token);
  const onec = data.onec_last_update;
  return html`<div class="page dash" data-testid="dashboard">
    <header class="topbar">
      <div class="brand">storeops <span>панель оператора</span></div>
      <div class="muted" data-testid="updated-at">обновлено ${dateTimeRu(new Date(fetchedAt + skew))}</div>
      ${problem && html`<div class="offline" data-testid="dashboard-error">${problem}</div>`}
      <button class="tool" data-testid="logout" onClick=${onLogout}>Выйти</button>
    </header>
    <main class="dash-grid">
      <section class="card wide">
        <h2 class="card-title">Каналы</h2>
        <div class="channel-cards" data-testid="channels">
          ${(data.channels || []).map((channel) => html`<${ChannelCard} key=${channel.name} channel=${channel} />`)}
        </div>
        <p class="onec" data-testid="onec-last-update">
          1С: ${onec ? html`последние остатки ${dateTimeRu(onec)} (${relativeRu(onec, now)})` : "остатков из 1С ещё не было"}
        </p>
      </section>
      <${OrderSearch} token=${token} locale=${data.locale} channelTitles=${CHANNEL_TITLES} />
      <${OrderSteps} steps=${data.order_events || []} counters=${data.orders} locale=${data.locale} />
      <${Tasks} tasks=${data.tasks || []} now=${now} />
      <${Alerts} alerts=${data.alerts || []} now=${now} />
      <${Drift} drift=${data.drift || []} />
      <${Report} report=${data.report} chart=${chart} />
    </main>
  </div>`;
}

function App() {
  const [token, setToken] = useState(initialToken);
  const [formMessage, setFormMessage] = useState(null);
  const [data, setData] = useState(null);
  const [fetchedAt, setFetchedAt] = useState(0);
  const [problem, setProblem] = useState(null);
  const logout = (message) => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setData(null);
    setFormMessage(message);
  };
  useEffect(() => {
    if (!token) return undefined;
    let stopped = false;
    const poll = async () => {
      try {
        const answer = await requestJson("GET", API, { headers: { Authorization: `Bearer ${token}` } });
        if (stopped) return;
        setData(answer);
        setFetchedAt(Date.now());
        setProblem(null);
      } catch (failure) {
        if (stopped) return;
        if (failure.status === 401) logout("Токен не подошёл (401): введите API_TOKEN ещё раз.");
        else setProblem(`Не удалось обновить: ${failure.message}`);
      }
    };
    poll();
    const timer = setInterval(poll, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [token]);
  if (!token) {
    return html`<${TokenForm}
      message=${formMessage}
      onToken=${(value) => {
        sessionStorage.setItem(TOKEN_KEY, value);
        setFormMessage(null);
        setToken(value);
      }}
    />`;
  }
  if (!data) return html`<p class="boot" data-testid="loading">${problem || "Загрузка…"}</p>`;
  return html`<${Dashboard} data=${data} token=${token} problem=${problem} fetchedAt=${fetchedAt} onLogout=${() => logout(null)} />`;
}

render(html`<${App} />`, document.getElementById("app"));
