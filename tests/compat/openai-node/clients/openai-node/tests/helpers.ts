export const GATEWAY_URL =
  process.env.TENSORZERO_GATEWAY_URL ?? "http://localhost:3000";
