// Must NOT compile: "complete" is not an order status (the enum says "completed").
import type { components } from "./schema";

type Order = components["schemas"]["OrderView"];

export function isDone(order: Order): boolean {
  return order.status === "complete";
}
