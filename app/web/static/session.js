// The API token of the operator's pages (the dashboard, the report): asked once, kept in sessionStorage
// (gone when the tab closes); a link may carry it as #token=..., which is removed from the address bar at
// once so it does not stay in the history or get copied along with the URL.
import { html, useEffect, useState } from "./vendor/htm-preact-standalone.mjs";

export const TOKEN_KEY = "storeops.apiToken";

function takeTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]*)/.exec(window.location.hash);
  if (!match) return null;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  return decodeURIComponent(match[1]);
}

export function initialToken() {
  const fromLink = takeTokenFromFragment();
  if (fromLink) sessionStorage.setItem(TOKEN_KEY, fromLink);
  return fromLink || sessionStorage.getItem(TOKEN_KEY);
}

// The form's words (the page's language): ``prompt`` with "{env}" where the .env file is named, ``submit``.
const RUSSIAN = { prompt: "Введите API_TOKEN сервиса (он в файле {env}). Токен хранится только в этой вкладке.", submit: "Войти" };

export function TokenForm({ title, message, onToken, words = RUSSIAN }) {
  const [value, setValue] = useState("");
  const [before, after] = words.prompt.split("{env}");
  return html`<form
    class="token-form card"
    data-testid="token-form"
    onSubmit=${(e) => {
      e.preventDefault();
      if (value.trim()) onToken(value.trim());
    }}
  >
    <h1>${title}</h1>
    <p>${before}<code>.env</code>${after}</p>
    ${message && html`<p class="form-error" data-testid="token-error" role="alert">${message}</p>`}
    <input type="password" autocomplete="off" data-testid="token-input" placeholder="API_TOKEN" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
    <button type="submit" data-testid="token-submit">${words.submit}</button>
  </form>`;
}

// A picture behind the token: an <img src> cannot send it, so fetch it and show a blob URL.
export function useAuthorisedImage(url, token) {
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
