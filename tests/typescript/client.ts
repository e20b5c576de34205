// A small typed client of the API, checked with `tsc --strict` against the types that
// openapi-typescript generates from /schema/openapi.json (tests/integration/api/test_typescript.py).
import type { components, operations, paths } from "./schema";

type Order = components["schemas"]["OrderView"];
type OrderStatus = components["schemas"]["OrderStatus"];
type Problem = components["schemas"]["Problem"];
type CreateBody = operations["createOrder"]["requestBody"]["content"]["application/json"];
type Listing = paths["/api/admin/orders"]["get"]["responses"][200]["content"]["application/json"];
type ListQuery = NonNullable<operations["listAdminOrders"]["parameters"]["query"]>;
type Location = operations["createOrder"]["responses"][201]["headers"]["Location"];
type RetryAfter = operations["createOrder"]["responses"][429]["headers"]["Retry-After"];
type Signature = operations["receivePaymentEvent"]["parameters"]["header"]["X-Signature"];

export const finished: ReadonlyArray<OrderStatus> = ["completed", "failed_pay"];

export function isDone(order: Order): boolean {
  return order.status === "completed";
}

export function describe(problem: Problem): string {
  switch (problem.code) {
    case "validation_error":
    case "invalid_order":
      return (problem.errors ?? []).map((e) => `${e.field}: ${e.message}`).join("; ");
    case "rate_limited":
      return "slow down";
    default:
      return problem.detail;
  }
}

export const body: CreateBody = {
  reference_id: "ref-1",
  pool_id: "pool-1",
  token_symbol: "USDC",
  amount_token: "12.50",
  min_amount_token_receive: "12.40",
  price_tolerance_percent: "1.5",
  fiat_currency: "EUR",
  price_fiat: "13.10",
  passkey: { credential_id: "cred-1", public_key: "pk-1" },
  return_url: "http://127.0.0.1:8010/shop",
};

export const query: ListQuery = { status: ["completed", "pending"], limit: 10, sort: "price_fiat" };

export function nextCursor(listing: Listing): string | null {
  return listing.next_cursor;
}

export function paymentDone(order: Order): boolean {
  return order.payment.status === "completed" && order.transfer?.status === "confirmed";
}

export const headers: { location: Location; retryAfter: RetryAfter; signature: Signature } = {
  location: "/api/orders/0b7e8f9c",
  retryAfter: 5,
  signature: "t=1,v1=00",
};

export async function createOrder(base: string, buyerToken: string): Promise<Order | Problem> {
  const response = await fetch(`${base}/api/orders`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${buyerToken}` },
    body: JSON.stringify(body),
  });
  return (await response.json()) as Order | Problem;
}
