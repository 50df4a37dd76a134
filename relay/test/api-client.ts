/** A tiny client of the server API for the tests: status, parsed JSON body, headers. */
export interface ApiResponse {
  status: number;
  body: Record<string, unknown> | null;
  headers: Headers;
}

export async function apiCall(
  baseUrl: string,
  method: string,
  path: string,
  { key, body, headers = {} }: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> | null = null;
  if (text) parsed = JSON.parse(text) as Record<string, unknown>;
  return { status: response.status, body: parsed, headers: response.headers };
}

export const conversationPath = (conv: string, rest = '') => `/api/v1/conversations/${encodeURIComponent(conv)}${rest}`;
