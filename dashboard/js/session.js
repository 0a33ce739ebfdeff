// The signed-in session: the Cognito ID token, in this tab's sessionStorage only (never a cookie,
// never localStorage). It is sent as a bearer token to this dashboard's own API.
const KEY = 'sparkai.dashboard.idToken';

function claimsOf(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload));
  } catch {
    return null;
  }
}

export function currentToken() {
  const token = sessionStorage.getItem(KEY);
  const claims = token && claimsOf(token);
  if (!claims || !claims.exp || claims.exp * 1000 <= Date.now()) {
    sessionStorage.removeItem(KEY);
    return null;
  }
  return token;
}

export function currentEmail() {
  const token = currentToken();
  return token ? claimsOf(token).email || '' : '';
}

export function startSession(token) {
  sessionStorage.setItem(KEY, token);
}

export function endSession() {
  sessionStorage.removeItem(KEY);
}
