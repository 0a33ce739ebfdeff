// The dashboard's entry point: sign-in state, hash routes (#/keys, #/usage, #/quickstart).
import { ApiError, SessionExpired } from './api.js';
import { CognitoError, confirmSignUp, signIn, signUp } from './cognito.js';
import { loadConfig } from './config.js';
import { $, copyText, show } from './dom.js';
import { renderKeys, setUpKeys } from './keys.js';
import { renderQuickstart } from './quickstart.js';
import { currentEmail, currentToken, endSession, startSession } from './session.js';
import { renderUsage } from './usage.js';

const VIEWS = { keys: renderKeys, usage: renderUsage, quickstart: renderQuickstart };
let pendingSignUp = null; // {email, password} between SignUp and ConfirmSignUp (AWS only)

function notice(text, kind = 'info') {
  const el = $('notice');
  el.textContent = text || '';
  el.className = `notice ${kind}`;
  show(el, Boolean(text));
}

function authError(text) {
  $('auth-error').textContent = text || '';
  show($('auth-error'), Boolean(text));
}

async function report(work) {
  try {
    notice('');
    await work();
  } catch (error) {
    if (error instanceof SessionExpired) {
      endSession();
      await route();
      authError('Your session has ended. Please sign in again.');
    } else if (error instanceof ApiError) {
      notice(error.message, 'error');
    } else {
      notice(`Something went wrong: ${error.message}`, 'error');
    }
  }
}

async function route() {
  show($('loading'), false);
  const signedIn = Boolean(currentToken());
  show($('nav'), signedIn);
  show($('view-auth'), !signedIn);
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1];
  const view = VIEWS[name] ? name : 'keys';
  for (const each of Object.keys(VIEWS)) show($(`view-${each}`), signedIn && each === view);
  document.querySelectorAll('#nav a[data-route]').forEach((a) => {
    a.classList.toggle('active', a.dataset.route === view);
    if (a.dataset.route === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  if (!signedIn) return;
  $('who').textContent = currentEmail();
  document.title = `SparkAI Stream · ${view[0].toUpperCase()}${view.slice(1)}`;
  await report(() => VIEWS[view]());
}

async function finishSignIn(config, email, password) {
  startSession(await signIn(config, email, password));
  authError('');
  document.querySelectorAll('#view-auth form').forEach((form) => form.reset());
  if (!location.hash) location.hash = '#/keys';
  await route();
}

function cognitoMessage(error) {
  if (!(error instanceof CognitoError)) return `Could not reach the sign-in service (${error.message}).`;
  if (error.type === 'NotAuthorizedException' || error.type === 'UserNotFoundException') return 'Incorrect e-mail or password.';
  if (error.type === 'UsernameExistsException') return 'An account with this e-mail exists already: sign in instead.';
  return error.message;
}

async function main() {
  const config = await loadConfig();
  setUpKeys(report);

  $('signin-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    try {
      await finishSignIn(config, form.elements.email.value.trim(), form.elements.password.value);
    } catch (error) {
      if (error instanceof CognitoError && error.type === 'UserNotConfirmedException') {
        pendingSignUp = { email: form.elements.email.value.trim(), password: form.elements.password.value };
        $('confirm-email').textContent = pendingSignUp.email;
        show($('signup-form'), false);
        show($('confirm-form'), true);
        authError('Confirm your e-mail address first: enter the code we sent you.');
      } else {
        authError(cognitoMessage(error));
      }
    }
  });

  $('signup-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    try {
      const answer = await signUp(config, email, password);
      if (answer.UserConfirmed) {
        await finishSignIn(config, email, password);
        return;
      }
      pendingSignUp = { email, password };
      $('confirm-email').textContent = email;
      show($('signup-form'), false);
      show($('confirm-form'), true);
      authError('');
    } catch (error) {
      authError(cognitoMessage(error));
    }
  });

  $('confirm-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!pendingSignUp) return;
    try {
      await confirmSignUp(config, pendingSignUp.email, event.currentTarget.elements.code.value.trim());
      const { email, password } = pendingSignUp;
      pendingSignUp = null;
      show($('confirm-form'), false);
      show($('signup-form'), true);
      await finishSignIn(config, email, password);
    } catch (error) {
      authError(cognitoMessage(error));
    }
  });

  $('sign-out').addEventListener('click', async () => {
    endSession();
    notice('');
    await route();
  });

  document.querySelectorAll('button[data-copy]').forEach((button) => {
    button.addEventListener('click', async () => {
      const copied = await copyText($(button.dataset.copy).textContent).catch(() => false);
      button.textContent = copied ? 'Copied' : 'Select and copy';
    });
  });

  window.addEventListener('hashchange', route);
  await route();
}

main().catch((error) => {
  show($('loading'), false);
  notice(`The dashboard could not start: ${error.message}`, 'error');
});
