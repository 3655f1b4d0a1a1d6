import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { makeMetricsSnapshot, makeMetricsSnapshotWithoutCuped } from "@test-support/metricsFixtures";
import { MetricResults } from "./MetricResults";

const snapshot = makeMetricsSnapshot();

function renderMetrics() {
  render(<MetricResults metrics={snapshot.metrics ?? []} variants={snapshot.variants} />);
}

function card(key: string) {
  const match = screen.getAllByTestId("metric-card").find((el) => el.dataset.metricKey === key);
  if (!match) throw new Error(`no card for ${key}`);
  return within(match);
}

function cell(metricKey: string, variantKey: string, testId: string): HTMLElement {
  const row = card(metricKey)
    .getAllByTestId("metric-variant-row")
    .find((el) => el.dataset.variantKey === variantKey);
  if (!row) throw new Error(`no row ${variantKey} in ${metricKey}`);
  return within(row).getByTestId(testId);
}

describe("MetricResults", () => {
  it("shows one card per metric in definition order, each with its name, role badge and direction", () => {
    renderMetrics();
    const cards = screen.getAllByTestId("metric-card");
    expect(cards.map((el) => within(el).getByTestId("metric-name").textContent)).toEqual([
      "Checkout conversion",
      "Revenue per user",
      "Refunds per order",
    ]);
    expect(cards.map((el) => within(el).getByTestId("metric-role").textContent)).toEqual(["Primary", "Secondary", "Guardrail"]);
    expect(card("refunds").getByTestId("metric-direction")).toHaveTextContent("lower is better");
    expect(card("revenue").getByTestId("metric-direction")).toHaveTextContent("higher is better");
    expect(screen.getByRole("region", { name: "Refunds per order" })).toBe(cards[2]);
  });

  it("formats the value by kind: percent for a proportion, two decimals for a mean or a ratio", () => {
    renderMetrics();
    expect(card("checkout_conversion").getByTestId("metric-value-header")).toHaveTextContent("Rate");
    expect(cell("checkout_conversion", "one_click", "metric-value")).toHaveTextContent("12.00%");
    expect(card("revenue").getByTestId("metric-value-header")).toHaveTextContent("Mean");
    expect(cell("revenue", "control", "metric-value")).toHaveTextContent("12.50");
    expect(cell("revenue", "express", "metric-value")).toHaveTextContent("1,234.50");
    expect(card("refunds").getByTestId("metric-value-header")).toHaveTextContent("Ratio");
    expect(cell("refunds", "control", "metric-value")).toHaveTextContent("0.04");
    expect(cell("refunds", "one_click", "metric-users")).toHaveTextContent("24,100");
  });

  it("shows each treatment's lift with its interval, the adjusted p-value and the chance to win", () => {
    renderMetrics();
    expect(cell("revenue", "one_click", "metric-lift")).toHaveTextContent("+3.1%");
    expect(cell("revenue", "one_click", "metric-lift-ci")).toHaveTextContent("\u22121.2% \u2026 +7.4%");
    expect(cell("revenue", "one_click", "metric-p-value")).toHaveTextContent("0.080");
    expect(card("revenue").getByTestId("metric-p-value-header")).toHaveTextContent("P-value (adj.)");
    expect(cell("revenue", "one_click", "metric-chance-to-win")).toHaveTextContent("97.0%");
  });

  it("leaves the control's lift, interval, p-value and chance to win empty", () => {
    renderMetrics();
    for (const testId of ["metric-lift", "metric-lift-ci", "metric-p-value", "metric-chance-to-win"]) {
      expect(cell("refunds", "control", testId).textContent).toBe("—");
    }
    expect(cell("refunds", "control", "metric-verdict")).toHaveAttribute("data-verdict", "control");
  });

  it("judges significance by the metric's direction: for a lower-is-better metric a significant drop is better", () => {
    renderMetrics();
    const verdicts = (key: string) =>
      card(key)
        .getAllByTestId("metric-verdict")
        .map((el) => el.textContent);
    expect(verdicts("checkout_conversion")).toEqual(["control", "better", "not significant"]);
    expect(verdicts("revenue")).toEqual(["control", "not significant", "worse"]);
    expect(verdicts("refunds")).toEqual(["control", "worse", "better"]);
    expect(cell("refunds", "one_click", "metric-verdict")).toHaveAttribute("title", "Significant, in the bad direction (lower is better)");
  });

  it("colours lifts and intervals as good or bad news, not by their sign", () => {
    renderMetrics();
    // Refunds: a rise is bad news (red), a fall good news (green).
    expect(cell("refunds", "one_click", "metric-lift").className).toMatch(/negative/);
    expect(cell("refunds", "one_click", "metric-lift-ci").className).toMatch(/negative/);
    expect(cell("refunds", "express", "metric-lift").className).toMatch(/positive/);
    expect(cell("refunds", "express", "metric-lift-ci").className).toMatch(/positive/);
    // Revenue: a rise is good news; an interval that straddles zero stays plain.
    expect(cell("revenue", "one_click", "metric-lift").className).toMatch(/positive/);
    expect(cell("revenue", "one_click", "metric-lift-ci").className).not.toMatch(/positive|negative/);
  });

  it("names the variants from the snapshot and shows an unknown variant by its key", () => {
    const [primary] = snapshot.metrics ?? [];
    const stray = { ...primary, variants: [...primary.variants, { ...primary.variants[1], key: "ghost" }] };
    render(<MetricResults metrics={[stray]} variants={snapshot.variants} />);
    const names = screen.getAllByRole("rowheader").map((th) => th.textContent);
    expect(names).toEqual(["Control control", "One-click checkout one_click", "Express checkout express", "ghost ghost"]);
  });

  it("says P-value without (adj.) when the server sends no adjusted p-values", () => {
    const [primary] = snapshot.metrics ?? [];
    const raw = { ...primary, variants: primary.variants.map((v) => ({ ...v, p_value_adjusted: null })) };
    render(<MetricResults metrics={[raw]} variants={snapshot.variants} />);
    expect(screen.getByTestId("metric-p-value-header").textContent).toBe("P-value");
    expect(screen.getAllByTestId("metric-p-value").map((el) => el.textContent)).toEqual(["—", "<0.001", "0.710"]);
  });

  describe("CUPED", () => {
    it("badges the regression-adjusted metric only, and notes each treatment's reduction when they differ", () => {
      renderMetrics();
      expect(card("checkout_conversion").queryByTestId("metric-cuped")).not.toBeInTheDocument();
      expect(card("refunds").queryByTestId("metric-cuped")).not.toBeInTheDocument();
      const badge = card("revenue").getByTestId("metric-cuped");
      expect(badge.textContent).toBe("CUPED");
      expect(badge.getAttribute("title")).toContain("One-click checkout: \u03b8 = 0.41, 31% less variance");
      expect(cell("revenue", "one_click", "metric-variant-cuped").textContent).toBe("CUPED: \u221231% variance");
      expect(cell("revenue", "express", "metric-variant-cuped").textContent).toBe("CUPED: \u221224% variance");
      expect(cell("revenue", "express", "metric-variant-cuped")).toHaveAttribute(
        "title",
        "Regression-adjusted on the users\u2019 pre-experiment values (CUPED, \u03b8 = 0.38): the lift\u2019s variance is 24% lower, so its interval is narrower.",
      );
      const controlRow = card("revenue")
        .getAllByTestId("metric-variant-row")
        .find((el) => el.dataset.variantKey === "control");
      expect(controlRow?.querySelector('[data-testid="metric-variant-cuped"]')).toBeNull();
    });

    it("shows one badge with the reduction and theta when there is one treatment", () => {
      const revenue = (snapshot.metrics ?? [])[1];
      const single = { ...revenue, variants: revenue.variants.slice(0, 2) };
      render(<MetricResults metrics={[single]} variants={snapshot.variants.slice(0, 2)} />);
      const badge = screen.getByTestId("metric-cuped");
      expect(badge.textContent).toBe("CUPED: \u221231% variance");
      expect(badge).toHaveAttribute(
        "title",
        "Regression-adjusted on the users\u2019 pre-experiment values (CUPED, \u03b8 = 0.41): the lift\u2019s variance is 31% lower, so its interval is narrower.",
      );
      expect(screen.queryByTestId("metric-variant-cuped")).not.toBeInTheDocument();
    });

    it("says when the adjustment removed no variance", () => {
      const revenue = (snapshot.metrics ?? [])[1];
      const none = { theta: 0, variance_reduction: 0 };
      const flat = { ...revenue, cuped: none, variants: revenue.variants.map((v) => (v.cuped ? { ...v, cuped: none } : v)) };
      render(<MetricResults metrics={[flat]} variants={snapshot.variants} />);
      expect(screen.getByTestId("metric-cuped").textContent).toBe("CUPED: no variance reduction");
    });

    it("renders metrics without cuped fields exactly as before", () => {
      const before = makeMetricsSnapshotWithoutCuped();
      const { container } = render(<MetricResults metrics={before.metrics ?? []} variants={before.variants} />);
      expect(screen.queryByTestId("metric-cuped")).not.toBeInTheDocument();
      expect(screen.queryByTestId("metric-variant-cuped")).not.toBeInTheDocument();
      expect(container.querySelector(".es-cuped, .es-cuped-note")).toBeNull();
    });
  });
});
