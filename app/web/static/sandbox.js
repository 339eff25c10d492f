// The sandbox console: every role of the shop on one page. Store staff answer in Slack-like
// channel panes, the owner and managers chat in Telegram-like panes, and the stock, the
// channels' view of it and the orders sit beside them. The page only renders
// GET /sandbox/api/state and posts what a person would click or type; the service behind it is the real
// one, with emulated neighbours. The state comes when it changes: the page asks with the version it shows
// (?seen=) and the service answers once it has another (or after a while with the same), and right after
// each action the page asks again at once.
import { html, render, useCallback, useEffect, useRef, useState } from "./vendor/htm-preact-standalone.mjs";
import { ChatPane, StorePane } from "./chat_panes.js";
import { dateTimeRu, durationRu, requestJson, timeRu } from "./format.js";

const API = "/sandbox/api";
const RETRY_MS = 1000; // after a failed request, or an answer the service did not hold (nothing new, at once)
const HELD_AT_LEAST_MS = 250;
const CLOCK_STEPS = [
  [60, "+1 мин"],
  [1200, "+20 мин"],
  [3600, "+1 ч"],
  [14400, "+4 ч"],
];
const CHANNEL_TITLES = {
  wildberries: "WB",
  ozon: "Ozon",
  yandex_market: "ЯМ",
  site: "Сайт",
  retailcrm: "CRM",
};
const ORDER_STATUS_TITLES = {
  reserved: "зарезервирован",
  awaiting_store_confirmation: "ждёт ответа магазина",
  partially_reserved: "зарезервирован частично",
  out_of_stock: "нет в наличии",
  unfulfillable: "ни один магазин не подтвердил",
  cancelled: "отменён",
};

const channelTitle = (name) => CHANNEL_TITLES[name] || name;
// The stock table's column heads: short, so that every channel's column fits on a laptop (the full name is the title).
const CHANNEL_SHORT = { wildberries: "WB", ozon: "Ozon", yandex_market: "ЯМ", site: "Сайт", retailcrm: "CRM" };

// ---- state: answered when it changes, refreshed at once after every action ------------------

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function useLiveState(path) {
  const [state, setState] = useState(null);
  const [error, setError] = useState(null);
  const shown = useRef({ version: null, serial: -1 }); // what is on screen; an older answer arriving late is dropped
  const take = useCallback((answer) => {
    setError(null);
    const now = shown.current;
    if (!answer || (answer.version && (answer.version === now.version || answer.serial < now.serial))) return;
    shown.current = { version: answer.version ?? null, serial: answer.serial ?? -1 };
    setState(answer);
  }, []);
  const refresh = useCallback(async () => {
    try {
      take(await requestJson("GET", path));
    } catch (failure) {
      setError(failure.message);
    }
  }, [path, take]);
  useEffect(() => {
    let stopped = false;
    (async () => {
      while (!stopped) {
        const seen = shown.current.version;
        const asked = Date.now();
        try {
          const answer = await requestJson("GET", seen ? `${path}?seen=${encodeURIComponent(seen)}` : path);
          if (stopped) break;
          take(answer);
          // answered at once with nothing new (a service that does not hold the request): ask again in a second
          const held = Date.now() - asked >= HELD_AT_LEAST_MS;
          if (!held && (!answer?.version || answer.version === seen)) await pause(RETRY_MS);
        } catch (failure) {
          if (stopped) break;
          setError(failure.message);
          await pause(RETRY_MS);
        }
      }
    })();
    return () => {
      stopped = true;
    };
  }, [path, take]);
  return { state, setState, error, refresh };
}

// Re-renders its component every `ms` (the clock ticks in the page; the service is not asked for it).
function useTicking(ms) {
  const [, setTicks] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTicks((n) => n + 1), ms);
    return () => clearInterval(timer);
  }, [ms]);
}

// ---- stock and orders -----------------------------------------------------------------------

function StockTable({ stock }) {
  const warehouses = stock?.warehouses || [];
  const channels = stock?.channels || [];
  const rows = stock?.rows || [];
  return html`<section class="card">
    <h2 class="card-title">Остатки <span class="hint">красным — канал показывает не то, что должен</span></h2>
    <div class="table-wrap stock-box" data-testid="stock-box">
      <table class="stock" data-testid="stock-table">
        <thead>
          <tr>
            <th rowspan="2" class="item">Товар</th>
            ${warehouses.length > 0 && html`<th colspan=${warehouses.length} class="group">Склады: есть (в резерве)</th>`}
            <th rowspan="2" class="num" title="Доступно к продаже">Дост.</th>
            ${channels.length > 0 && html`<th colspan=${channels.length} class="group">Каналы: остаток, цена</th>`}
          </tr>
          <tr>
            ${warehouses.map((w) => html`<th key=${w.code} class="num" title=${`${w.title} (${w.code})`}>${w.title}</th>`)}
            ${channels.map((c) => html`<th key=${c} class="num" title=${channelTitle(c)}><abbr title=${channelTitle(c)}>${CHANNEL_SHORT[c] || channelTitle(c)}</abbr></th>`)}
          </tr>
        </thead>
        <tbody>
          ${rows.length === 0 && html`<tr><td class="empty" colspan=${2 + warehouses.length + channels.length}>Остатков пока нет: запустите сценарий.</td></tr>`}
          ${rows.map((row) => html`<${StockRow} key=${row.sku} row=${row} warehouses=${warehouses} channels=${channels} />`)}
        </tbody>
      </table>
    </div>
  </section>`;
}

// "2289.00" → "2 289 ₽", "1990.40" → "1 990,40 ₽": the price as the channel's emulator holds it
function rubles(text) {
  const value = Number(text);
  const digits = Number.isInteger(value) ? 0 : 2;
  return `${value.toLocaleString("ru-RU", { minimumFractionDigits: digits, maximumFractionDigits: digits })} ₽`;
}

function StockRow({ row, warehouses, channels }) {
  return html`<tr data-testid=${`stock-row-${row.sku}`}>
    <td class="item">
      <div>${row.name}</div>
      <div class="sku">${row.sku}</div>
      ${row.kit && html`<div class="kit" data-testid=${`stock-kit-${row.sku}`}>набор: ${Object.entries(row.kit).map(([sku, qty]) => `${sku} × ${qty}`).join(" + ")}</div>`}
    </td>
    ${warehouses.map((w) => {
      const cell = row.by_warehouse?.[w.code] || { on_hand: 0, reserved: 0 };
      return html`<td
        key=${w.code}
        class=${cell.on_hand ? "num" : "num muted"}
        data-testid=${`stock-wh-${row.sku}-${w.code}`}
        data-on-hand=${cell.on_hand}
        data-reserved=${cell.reserved}
      >
        ${cell.on_hand}${cell.reserved > 0 && html`<span class="reserved" title="в резерве"> (${cell.reserved})</span>`}
      </td>`;
    })}
    <td class="num strong" data-testid=${`stock-available-${row.sku}`}>${row.available}</td>
    ${channels.map((channel) => {
      const should = row.should_show?.[channel];
      const shows = row.shows?.[channel];
      const drift = should !== undefined && shows !== should;
      const title = drift ? `должно быть ${should ?? "—"}, эмулятор показывает ${shows ?? "ничего"}` : "совпадает";
      return html`<td key=${channel} class=${drift ? "num drift" : "num"} title=${title} data-testid=${`stock-shows-${row.sku}-${channel}`} data-drift=${String(drift)}>
        ${shows ?? "—"}${drift && html`<span class="should"> ≠ ${should}</span>`}
        ${row.prices_shown?.[channel] != null && html`<div class="price" data-testid=${`stock-price-${row.sku}-${channel}`}>${rubles(row.prices_shown[channel])}</div>`}
      </td>`;
    })}
  </tr>`;
}

function OrderCard({ order, open, onToggle, places }) {
  const id = order.order_id;
  return html`<li class=${open ? "order open" : "order"} data-testid=${`order-${id}`}>
    <button class="order-head" data-testid=${`order-toggle-${id}`} aria-expanded=${String(open)} onClick=${onToggle}>
      <span class="caret">${open ? "▾" : "▸"}</span>
      <span class="order-id">№ ${id}</span>
      <span class="chip">${channelTitle(order.channel)} ${order.external_id}</span>
      <span class=${`status status-${order.status}`} data-testid=${`order-status-${id}`}>
        ${ORDER_STATUS_TITLES[order.status] || order.status}
      </span>
      <span class="muted">${dateTimeRu(order.created_at)}</span>
    </button>
    ${open &&
    html`<div class="order-body">
      <table class="lines">
        <tbody>
          ${(order.lines || []).map(
            (line, i) => html`<tr key=${i}>
              <td class="sku">${line.sku}</td>
              <td class="num">× ${line.qty}</td>
              <td>${ORDER_STATUS_TITLES[line.status] || line.status}</td>
              <td class="muted">${places[line.warehouse] || line.warehouse || "склад не выбран"}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <ol class="history" data-testid=${`order-history-${id}`}>
        ${(order.history || []).map(
          (event, i) => html`<li key=${i} data-testid=${`order-event-${id}-${i}`} title=${event.said || null}>
            <span class="muted">${dateTimeRu(event.at)}</span> <b>${event.said || event.event}</b>
            ${event.said ? "" : html`<span class="muted"> ${event.detail}</span>`}
          </li>`,
        )}
      </ol>
    </div>`}
  </li>`;
}

function Orders({ orders, warehouses }) {
  const places = Object.fromEntries(warehouses.map((w) => [w.code, w.title]));
  const [open, setOpen] = useState(() => new Set());
  const toggle = (id) =>
    setOpen((previous) => {
      const next = new Set(previous);
      next.has(id) ? next.delete(id) : next.add(id);
      return next;
    });
  return html`<section class="card">
    <h2 class="card-title">Заказы <span class="hint">нажмите, чтобы увидеть историю</span></h2>
    ${orders.length === 0 && html`<p class="empty">Заказов пока нет.</p>`}
    <ul class="orders" data-testid="orders">
      ${orders.map((order) => html`<${OrderCard} key=${order.order_id} order=${order} open=${open.has(order.order_id)} places=${places} onToggle=${() => toggle(order.order_id)} />`)}
    </ul>
  </section>`;
}

// ---- one order's timeline and money, read from the service's own API as an operator would ----------------

const PURPOSE_TITLES = {
  goods: "товар",
  logistics: "логистика",
  customs: "таможня",
  warehouse: "склад",
  marketplace: "доставка на маркетплейс",
};
const PAYOUT_STATES = {
  drawn: "взят из резерва",
  short: "не хватает резерва",
  awaiting_topup: "ждёт доплаты клиента",
  postponed: "отложен",
  paid: "оплачен",
};

function money(text, currency = "RUB") {
  const value = Number(text || 0);
  const shown = value.toLocaleString("ru-RU", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return currency === "RUB" ? `${shown} ₽` : `${shown} ${currency}`;
}

// GET /api/orders/{id} (its history worded as /order words it) and GET /api/orders/{id}/money, again whenever the
// console's state changes; the client's signed link from GET /api/orders/{id}/client-link.
function useOrderReading(orderId, token, version) {
  const [reading, setReading] = useState(null);
  useEffect(() => {
    if (!orderId || !token) return undefined;
    let stopped = false;
    const headers = { Authorization: `Bearer ${token}` };
    (async () => {
      try {
        const [order, account] = await Promise.all([
          requestJson("GET", `/api/orders/${orderId}`, { headers }),
          requestJson("GET", `/api/orders/${orderId}/money`, { headers }),
        ]);
        const link = await requestJson("GET", `/api/orders/${orderId}/client-link`, { headers }).catch(() => null);
        if (!stopped) setReading({ orderId, order, account, link, error: null });
      } catch (failure) {
        if (!stopped) setReading({ orderId, error: failure.message });
      }
    })();
    return () => {
      stopped = true;
    };
  }, [orderId, token, version]);
  return reading?.orderId === orderId ? reading : null;
}

function OrderPane({ orders, token, version }) {
  const [chosen, setChosen] = useState(null);
  const orderId = chosen ?? orders[0]?.order_id ?? null;
  const reading = useOrderReading(orderId, token, version);
  const account = reading?.account;
  return html`<section class="card" data-testid="order-pane">
    <h2 class="card-title">Заказ: история и деньги <span class="hint">из API сервиса</span></h2>
    ${orders.length === 0
      ? html`<p class="empty">Заказов пока нет.</p>`
      : html`<select class="order-pane-select" data-testid="order-pane-select" value=${orderId ?? ""}
            onChange=${(event) => setChosen(Number(event.currentTarget.value))}>
          ${orders.map((o) => html`<option key=${o.order_id} value=${o.order_id}>№ ${o.order_id} — ${channelTitle(o.channel)} ${o.external_id}</option>`)}
        </select>`}
    ${reading?.error && html`<p class="offline" data-testid="order-pane-error">Не удалось прочитать заказ: ${reading.error}</p>`}
    ${reading?.link && html`<p><a data-testid="order-pane-client-link" href=${reading.link.path} target="_blank" rel="noopener">Страница клиента ↗</a></p>`}
    ${reading?.order && html`<ol class="history" data-testid="order-pane-timeline">
      ${(reading.order.history || []).map(
        (event, i) => html`<li key=${i}><span class="muted">${dateTimeRu(event.at)}</span> ${event.text}</li>`,
      )}
    </ol>`}
    ${account && html`<div data-testid="order-pane-money">
      <p class="order-pane-account" data-testid="order-pane-account">
        Зачислено на счёт заказа: <b>${money(account.credited)}</b>; не распределено: <b>${money(account.unallocated)}</b>
      </p>
      ${account.earmarks.length === 0
        ? html`<p class="empty">Сметы по заказу нет.</p>`
        : html`<div class="table-wrap"><table class="lines" data-testid="order-pane-earmarks">
            <thead><tr><th>Резерв</th><th class="num">По смете</th><th class="num">Отложено</th><th class="num">Взято</th><th class="num">Свободно</th></tr></thead>
            <tbody>
              ${account.earmarks.map((e) => html`<tr key=${e.purpose} data-testid=${`order-pane-earmark-${e.purpose}`}>
                <td>${PURPOSE_TITLES[e.purpose] || e.purpose}</td><td class="num">${money(e.planned)}</td>
                <td class="num">${money(e.reserved)}</td><td class="num">${money(e.drawn)}</td><td class="num">${money(e.available)}</td>
              </tr>`)}
            </tbody>
          </table></div>`}
      ${account.payouts.length > 0 && html`<ul class="order-pane-payouts" data-testid="order-pane-payouts">
        ${account.payouts.map((p) => html`<li key=${p.key} data-testid=${`order-pane-payout-${p.key}`} data-state=${p.state}>
          <b>${p.payee}</b>: ${money(p.amount, p.currency)} (${money(p.amount_rub)}) из резерва «${PURPOSE_TITLES[p.purpose] || p.purpose}»,
          до ${dateTimeRu(p.due_at)} — <span class=${`payout-state payout-${p.state}`}>${PAYOUT_STATES[p.state] || p.state}</span>
        </li>`)}
      </ul>`}
    </div>`}
  </section>`;
}

// ---- top bar, log, page -------------------------------------------------------------------

function TopBar({ state, connection, act, setClock, now }) {
  const clock = state?.clock;
  useTicking(1000);
  const advance = async (seconds, label) => {
    const answer = await act(`Часы: ${label}`, "clock", { advance_s: seconds });
    if (answer?.now) setClock(answer);
  };
  // Only the header line (name, clock, links) stays on screen: the tool rows scroll away with the page, so that the
  // sticky part stays small on a phone and never hides a pane's head.
  return html`<header class="topbar" data-testid="topbar">
      <div class="brand">storeops <span>песочница</span></div>
      <div class="clock" title="Время песочницы (МСК): настоящее время плюс сдвиг">
        <span class="clock-now" data-testid="clock-now">${clock ? dateTimeRu(now()) : "—"}</span>
        <span class="clock-offset" data-testid="clock-offset">
          ${clock && (clock.offset_s ? `сдвиг +${durationRu(clock.offset_s)}` : "без сдвига")}
        </span>
      </div>
      ${state?.dashboard_url && html`<a class="dash-link" data-testid="dashboard-link" href=${state.dashboard_url} target="_blank" rel="noopener">Панель оператора ↗</a>`}
      ${connection && html`<div class="offline" data-testid="connection-error">Нет связи: ${connection}</div>`}
    </header>
    <div class="toolbar" data-testid="toolbar">
      <div class="clock-buttons">
        ${CLOCK_STEPS.map(
          ([seconds, label]) => html`<button key=${seconds} class="tool" data-testid=${`clock-advance-${seconds}`} onClick=${() => advance(seconds, label)}>
            ${label}
          </button>`,
        )}
      </div>
      <div class="scenarios">
        ${(state?.scenarios || []).map(
          (scenario) => html`<button
            key=${scenario.name}
            class="scenario"
            data-testid=${`scenario-${scenario.name}`}
            title=${scenario.description}
            onClick=${() => act(`Сценарий «${scenario.title}»`, `scenario/${encodeURIComponent(scenario.name)}`)}
          >
            ▶ ${scenario.title}
          </button>`,
        )}
      </div>
    </div>`;
}

function ActionLog({ entries }) {
  return html`<section class="card">
    <h2 class="card-title">Журнал действий</h2>
    <ol class="log" data-testid="action-log">
      ${entries.length === 0 && html`<li class="muted">Здесь появятся ваши действия и ответы сервиса.</li>`}
      ${entries.map((entry) => html`<li key=${entry.id} class=${`log-${entry.kind}`}><span class="muted">${timeRu(entry.at)}</span> ${entry.text}</li>`)}
    </ol>
  </section>`;
}

let nextEntryId = 1;

function sandboxNow(seen) {
  return seen ? new Date(Date.parse(seen.now) + Date.now() - seen.seenAt) : new Date();
}

function App() {
  const { state, setState, error, refresh } = useLiveState(`${API}/state`);
  const [log, setLog] = useState([]);
  const [toast, setToast] = useState(null);
  const toastTimer = useRef(null);
  const clockSeen = useRef(null); // the log is stamped in the sandbox's time, not the browser's
  if (state?.clock && clockSeen.current?.now !== state.clock.now) {
    clockSeen.current = { now: state.clock.now, seenAt: Date.now() };
  }
  const note = useCallback((text, kind) => {
    const entry = { id: nextEntryId++, at: sandboxNow(clockSeen.current), text, kind };
    setLog((previous) => [entry, ...previous].slice(0, 40));
    if (kind === "info") return;
    setToast(entry);
    clearTimeout(toastTimer.current);
    toastTimer.current = setTimeout(() => setToast(null), kind === "error" ? 8000 : 5000);
  }, []);
  // Every click goes through here: post it, log it, then show the world it changed.
  const act = useCallback(
    async (label, route, body) => {
      try {
        // always a JSON body (a scenario takes none): the sandbox refuses an action without one
        const answer = await requestJson("POST", `${API}/${route}`, { body: body ?? {} });
        note(answer?.summary ? `${label}: ${answer.summary}` : label, answer?.summary ? "success" : "info");
        return answer;
      } catch (failure) {
        note(`${label} — ошибка: ${failure.message}`, "error");
        return null;
      } finally {
        refresh();
      }
    },
    [note, refresh],
  );
  const setClock = (clock) => setState((previous) => previous && { ...previous, clock });
  if (!state) {
    return html`<p class="boot" data-testid="loading">${error ? `Нет связи с песочницей: ${error}` : "Загрузка песочницы…"}</p>`;
  }
  return html`<div class="page">
    <${TopBar} state=${state} connection=${error} act=${act} setClock=${setClock} now=${() => sandboxNow(clockSeen.current)} />
    <main class="columns">
      <section class="col col-slack" data-testid="slack-column">
        <h2 class="col-title">Slack · магазины</h2>
        ${state.stores.map((store) => html`<${StorePane} key=${store.code} store=${store} act=${act} />`)}
      </section>
      <section class="col col-tg" data-testid="telegram-column">
        <h2 class="col-title">Telegram · владелец и менеджеры</h2>
        ${state.people.map((person) => html`<${ChatPane} key=${person.id} person=${person} act=${act} />`)}
      </section>
      <section class="col col-data">
        <${StockTable} stock=${state.stock} />
        <${Orders} orders=${state.orders || []} warehouses=${state.stock?.warehouses || []} />
        <${OrderPane} orders=${state.orders || []} token=${state.api_token} version=${state.version} />
        <${ActionLog} entries=${log} />
      </section>
    </main>
    ${toast && html`<div class=${`toast toast-${toast.kind}`} data-testid="toast" role="status">${toast.text}</div>`}
  </div>`;
}

render(html`<${App} />`, document.getElementById("app"));
