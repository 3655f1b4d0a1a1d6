import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { VariantResult } from "@expstream/client";
import { makeSnapshot } from "@test-support/mockWebSocket";
import { VariantTable } from "./VariantTable";

/** The demo's first minutes: few users, so the lift interval spans hundreds of percent. */
function earlyVariants(): VariantResult[] {
  const [control, treatment] = makeSnapshot().variants;
  return [
    { ...control, key: "control", name: "Current checkout" },
    {
      ...treatment,
      key: "one_click",
      name: "One-click checkout",
      relative_lift: 0.45,
      lift_ci: [-7.018, 7.918],
      p_value: 0.91,
      p_value_adjusted: 0.91,
      chance_to_win: 0.62,
      is_significant: false,
    },
  ];
}

function cell(variantKey: string, testId: string): HTMLElement {
  const row = screen.getAllByTestId("variant-row").find((el) => el.dataset.variantKey === variantKey);
  if (!row) throw new Error(`no row for ${variantKey}`);
  return within(row).getByTestId(testId);
}

describe("VariantTable layout", () => {
  it("shows a very wide interval in full, in two halves that break only after the ellipsis", () => {
    render(<VariantTable variants={earlyVariants()} />);
    const ci = cell("one_click", "variant-lift-ci");
    expect(ci).toHaveTextContent("\u2212701.8% \u2026 +791.8%");
    const halves = Array.from(ci.children).map((el) => el.textContent);
    expect(halves).toEqual(["\u2212701.8% \u2026", "+791.8%"]);
    for (const half of Array.from(ci.children)) expect(half.className).toMatch(/es-no-wrap/);
    // The cell itself may wrap (between the halves); the halves may not.
    expect(ci.className).toMatch(/es-interval/);
  });

  it("keeps the dash for a variant without an interval", () => {
    render(<VariantTable variants={earlyVariants()} />);
    expect(cell("control", "variant-lift-ci").textContent).toBe("—");
  });

  it("separates a variant's name from its key, so the key can move under the name", () => {
    render(<VariantTable variants={earlyVariants()} />);
    const header = screen.getAllByRole("rowheader")[1];
    expect(header.textContent).toBe("One-click checkout one_click");
  });

  it("scrolls inside its card rather than overflowing the page", () => {
    render(<VariantTable variants={earlyVariants()} />);
    expect(screen.getByTestId("variant-table").parentElement).toHaveClass("es-table-scroll");
    expect(screen.getByTestId("variant-table").className).toMatch(/es-results-table/);
  });
});
