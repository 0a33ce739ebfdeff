// The deployment's settings, injected at serve time (make run) or deploy time (config.json in S3).
let config = null;

export async function loadConfig() {
  if (config) return config;
  const response = await fetch('config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  config = Object.freeze(await response.json());
  return config;
}
