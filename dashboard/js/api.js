// The dashboard's account API (/v1/dashboard/...), authenticated by the ID token alone.
import { loadConfig } from './config.js';
import { currentToken, endSession } from './session.js';

export class SessionExpired extends Error {}

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.error = error;
  }
}

export async function api(method, path, body) {
  const config = await loadConfig();
  const token = currentToken();
  if (!token) throw new SessionExpired();
  const response = await fetch(`${config.dashboardApiUrl || ''}/v1/dashboard${path}`, {
    method,
    headers: {
      // The token alone: API Gateway's Cognito user pool authorizer reads the whole header as the
      // token (no Bearer scheme), and the local stack refuses what it refuses.
      Authorization: token,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) {
    endSession();
    throw new SessionExpired();
  }
  if (!response.ok) throw new ApiError(response.status, data.error);
  return data;
}
