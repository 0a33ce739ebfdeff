// Amazon Cognito user pools, spoken in Cognito's own JSON protocol (unsigned calls), so the same
// code runs against AWS and against the local stack's Cognito.

export class CognitoError extends Error {
  constructor(type, message) {
    super(message || type);
    this.type = type;
  }
}

async function call(endpoint, action, body) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': `AWSCognitoIdentityProviderService.${action}`,
    },
    body: JSON.stringify(body),
    credentials: 'omit',
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const type = String(data.__type || data.code || 'Error').split('#').pop();
    throw new CognitoError(type, data.message || data.Message || `Cognito answered ${response.status}`);
  }
  return data;
}

export function signUp(config, email, password) {
  return call(config.signUpEndpoint || config.cognitoEndpoint, 'SignUp', {
    ClientId: config.userPoolClientId,
    Username: email,
    Password: password,
    UserAttributes: [{ Name: 'email', Value: email }],
  });
}

export function confirmSignUp(config, email, code) {
  return call(config.cognitoEndpoint, 'ConfirmSignUp', {
    ClientId: config.userPoolClientId,
    Username: email,
    ConfirmationCode: code,
  });
}

// USER_PASSWORD_AUTH over TLS; the app client allows it (and SRP) and has no secret.
export async function signIn(config, email, password) {
  const data = await call(config.cognitoEndpoint, 'InitiateAuth', {
    ClientId: config.userPoolClientId,
    AuthFlow: 'USER_PASSWORD_AUTH',
    AuthParameters: { USERNAME: email, PASSWORD: password },
  });
  if (!data.AuthenticationResult) {
    throw new CognitoError(data.ChallengeName || 'ChallengeRequired', 'This account needs a step the dashboard does not support yet.');
  }
  return data.AuthenticationResult.IdToken;
}
