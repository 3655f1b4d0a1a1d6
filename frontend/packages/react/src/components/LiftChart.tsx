"use client";

import { useId, useLayoutEffect, useRef, useState, type RefObject } from "react";
import type { HistoryPoint, MetricResult, VariantResult } from "@expstream/client";
import { DIRECTION_NOTES, ROLE_LABELS, selectedMetric } from "../lib/metrics";
import { linearScale, niceTicks, niceTimeTicks, percentDigits } from "../lib/chartScale";
import { formatLift, formatLiftInterval, formatTimeTick, timeZoneOffsetMs } from "../lib/format";
import { buildLiftSeries, countLiftPoints, liftDomain, splitRuns, type LiftValue } from "../lib/liftSeries";
import { classNames as styles } from "../classNames";

/**
 * Drawing size in viewBox units. The SVG always spans the card's width; the
 * viewBox width follows the measured width (ResizeObserver) so that one unit
 * stays one CSS pixel and the labels keep their size on phones and wide screens.
 * Without a measurement (first render, tests) it is DEFAULT_WIDTH, scaled.
 */
const DEFAULT_WIDTH = 720;
const MIN_WIDTH = 280;
const MAX_WIDTH = 1400;
const HEIGHT = 260;
const MARGIN = { top: 12, right: 20, bottom: 30, left: 56 };
const Y_TICKS = 5;
/** Below this width the time axis gets at most three labels instead of six. */
const NARROW_WIDTH = 480;
/** A time label centred closer than this to the right edge is right-aligned instead. */
const EDGE_LABEL_ROOM = 24;
/** Half the width of the domain when all points share one time. */
const SINGLE_TIME_PAD_MS = 30_000;
/** Points needed before a line over time says anything. */
const MIN_POINTS = 2;

/** One colour per treatment, in table order (the control has no line: its lift is zero by definition). */
export const SERIES_COLORS = ["#2563eb", "#d97706", "#7c3aed", "#0d9488", "#db2777", "#65a30d"];

const seriesColor = (index: number) => SERIES_COLORS[index % SERIES_COLORS.length];

export interface LiftChartProps {
  /** History plus live points, oldest first (see useLiftHistory). */
  points: HistoryPoint[];
  /** The current snapshot's variants: names, order and which one is the control. */
  variants: readonly Pick<VariantResult, "key" | "name" | "is_control">[];
  /** The history request is still running. */
  loading?: boolean;
  /** Shown under the chart when the history could not be loaded. */
  error?: string | null;
  /** Time zone for the time axis (tests); default: the viewer's. */
  timeZone?: string;
  /**
   * The snapshot's metrics: a selector picks the one drawn (first the primary one). Without
   * metrics the chart draws the conversion lifts of `points`, as before.
   */
  metrics?: readonly Pick<MetricResult, "key" | "name" | "role" | "direction">[] | null;
}

type Scale = (value: number) => number;

function fmt(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}

function linePath(run: LiftValue[], x: Scale, y: Scale): string {
  return run.map((v, i) => `${i === 0 ? "M" : "L"}${fmt(x(v.time))},${fmt(y(v.lift as number))}`).join("");
}

function bandPath(run: LiftValue[], x: Scale, y: Scale): string {
  const upper = run.map((v, i) => `${i === 0 ? "M" : "L"}${fmt(x(v.time))},${fmt(y(v.ci![1]))}`);
  const lower = [...run].reverse().map((v) => `L${fmt(x(v.time))},${fmt(y(v.ci![0]))}`);
  return `${upper.join("")}${lower.join("")}Z`;
}

const clampWidth = (measured: number) => Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, Math.round(measured)));

/**
 * Content width of `ref`'s element, measured before the first paint and kept up
 * to date with a ResizeObserver; `fallback` where there is no layout (jsdom) or no observer.
 */
function useMeasuredWidth(ref: RefObject<HTMLElement | null>, fallback: number): number {
  const [width, setWidth] = useState(fallback);
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    if (element.clientWidth > 0) setWidth(clampWidth(element.clientWidth));
    if (typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver((entries) => {
      const measured = entries[0]?.contentRect.width ?? 0;
      if (measured > 0) setWidth(clampWidth(measured));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

/** Relative lift of each treatment over time, with its confidence band, as plain SVG. */
export function LiftChart({ points, variants, loading = false, error = null, timeZone, metrics = null }: LiftChartProps) {
  const id = useId();
  const clipId = `lift-clip-${id.replace(/[^a-zA-Z0-9_-]/g, "")}`;
  const bodyRef = useRef<HTMLDivElement>(null);
  const width = useMeasuredWidth(bodyRef, DEFAULT_WIDTH);
  const [chosenKey, setChosenKey] = useState<string | null>(null);
  // The chosen metric while the snapshot still has it, else the default (primary) one.
  const metric = selectedMetric(metrics, chosenKey);
  const treatments = variants.filter((v) => !v.is_control);
  const series = buildLiftSeries(points, treatments, metric?.key ?? null);
  const domain = liftDomain(series);
  const enough = domain !== null && countLiftPoints(series) >= MIN_POINTS;
  const selectId = `${id}-metric`;

  return (
    <figure className={`${styles.card} ${styles.chartCard}`} data-testid="lift-chart" data-metric-key={metric?.key}>
      <figcaption className={styles.chartHeader}>
        <span className={styles.chartTitle}>Relative lift over time</span>
        <span className={styles.chartNote}>
          line: lift vs. control · band: confidence interval
          {metric?.direction === "decrease" && ` · ${DIRECTION_NOTES.decrease}`}
        </span>
        {metric && (
          <span className={styles.metricSelect}>
            <label htmlFor={selectId}>Metric</label>
            <select
              id={selectId}
              data-testid="lift-metric-select"
              value={metric.key}
              onChange={(event) => setChosenKey(event.target.value)}
            >
              {(metrics ?? []).map((option) => (
                <option key={option.key} value={option.key}>
                  {option.name} ({ROLE_LABELS[option.role]})
                </option>
              ))}
            </select>
          </span>
        )}
      </figcaption>
      <div ref={bodyRef}>
        {enough ? (
          <ChartBody
            series={series}
            domain={domain}
            clipId={clipId}
            width={width}
            timeZone={timeZone}
            label={`Relative lift${metric ? ` of ${metric.name}` : ""} over time for ${series.map((s) => s.name).join(", ")}`}
          />
        ) : (
          <p className={styles.chartEmpty} data-testid="lift-chart-empty">
            {loading ? "Loading the lift history…" : "Not enough data yet."}
          </p>
        )}
      </div>
      {enough && (
        <ul className={styles.legend} data-testid="lift-chart-legend">
          {series.map((s, index) => {
            const latest = [...s.values].reverse().find((v) => v.lift !== null);
            return (
              <li key={s.key} data-testid="lift-legend-item" data-variant-key={s.key}>
                <span className={styles.legendSwatch} style={{ background: seriesColor(index) }} aria-hidden="true" />
                <span className={styles.variantName}>{s.name}</span>{" "}
                <span className={styles.legendValue}>
                  {formatLift(latest?.lift ?? null)}
                  {latest?.ci ? ` (${formatLiftInterval(latest.ci)})` : ""}
                </span>
              </li>
            );
          })}
        </ul>
      )}
      {error && (
        <p className={styles.chartNote} data-testid="lift-chart-error">
          {error}
        </p>
      )}
    </figure>
  );
}

interface ChartBodyProps {
  series: ReturnType<typeof buildLiftSeries>;
  domain: [number, number];
  clipId: string;
  width: number;
  timeZone?: string;
  /** The SVG's accessible name. */
  label: string;
}

function ChartBody({ series, domain, clipId, width, timeZone, label }: ChartBodyProps) {
  const plot = { left: MARGIN.left, right: width - MARGIN.right, top: MARGIN.top, bottom: HEIGHT - MARGIN.bottom };
  const times = series.flatMap((s) => s.values.map((v) => v.time));
  let start = Math.min(...times);
  let end = Math.max(...times);
  if (start === end) {
    start -= SINGLE_TIME_PAD_MS;
    end += SINGLE_TIME_PAD_MS;
  }
  const x = linearScale([start, end], [plot.left, plot.right]);
  const yTicks = niceTicks(domain[0], domain[1], Y_TICKS);
  const yDomain: [number, number] = [yTicks[0], yTicks[yTicks.length - 1]];
  const y = linearScale(yDomain, [plot.bottom, plot.top]);
  const digits = percentDigits(yTicks.length > 1 ? yTicks[1] - yTicks[0] : 0);
  const { ticks: xTicks, stepMs } = niceTimeTicks(
    start,
    end,
    width < NARROW_WIDTH ? 3 : 6,
    timeZoneOffsetMs(start, timeZone),
  );

  return (
    <svg
      className={styles.chartSvg}
      viewBox={`0 0 ${width} ${HEIGHT}`}
      role="img"
      aria-label={label}
      data-testid="lift-chart-svg"
    >
      <defs>
        <clipPath id={clipId}>
          <rect x={plot.left} y={plot.top} width={plot.right - plot.left} height={plot.bottom - plot.top} />
        </clipPath>
      </defs>

      <g className={styles.axis} data-testid="lift-y-axis">
        {yTicks.map((tick) => (
          <g key={tick}>
            <line className={styles.gridLine} x1={plot.left} x2={plot.right} y1={fmt(y(tick))} y2={fmt(y(tick))} />
            <text x={plot.left - 8} y={fmt(y(tick))} textAnchor="end" dominantBaseline="middle">
              {formatLift(tick, digits)}
            </text>
          </g>
        ))}
      </g>
      <g className={styles.axis} data-testid="lift-x-axis">
        <line className={styles.axisLine} x1={plot.left} x2={plot.right} y1={plot.bottom} y2={plot.bottom} />
        {xTicks.map((tick) => (
          <g key={tick}>
            <line className={styles.axisLine} x1={fmt(x(tick))} x2={fmt(x(tick))} y1={plot.bottom} y2={plot.bottom + 4} />
            <text
              x={fmt(x(tick))}
              y={plot.bottom + 18}
              textAnchor={x(tick) > plot.right - EDGE_LABEL_ROOM ? "end" : "middle"}
            >
              {formatTimeTick(tick, stepMs, end - start, timeZone)}
            </text>
          </g>
        ))}
      </g>

      <line
        className={styles.zeroLine}
        data-testid="lift-zero-line"
        x1={plot.left}
        x2={plot.right}
        y1={fmt(y(0))}
        y2={fmt(y(0))}
      />

      {series.map((s, index) => {
        const color = seriesColor(index);
        const ciRuns = splitRuns(s.values, (v) => v.ci !== null);
        const liftRuns = splitRuns(s.values, (v) => v.lift !== null);
        const bands = ciRuns.filter((run) => run.length > 1);
        const bars = ciRuns.filter((run) => run.length === 1).map((run) => run[0]);
        const lines = liftRuns.filter((run) => run.length > 1);
        const dots = liftRuns.filter((run) => run.length === 1).map((run) => run[0]);
        return (
          <g key={s.key} data-testid="lift-series" data-variant-key={s.key} clipPath={`url(#${clipId})`}>
            {bands.length > 0 && (
              <path
                data-testid="lift-band"
                d={bands.map((run) => bandPath(run, x, y)).join("")}
                fill={color}
                fillOpacity={0.14}
                stroke="none"
              />
            )}
            {bars.map((v, i) => (
              <line
                key={i}
                x1={fmt(x(v.time))}
                x2={fmt(x(v.time))}
                y1={fmt(y(v.ci![0]))}
                y2={fmt(y(v.ci![1]))}
                stroke={color}
                strokeOpacity={0.35}
                strokeWidth={3}
              />
            ))}
            {lines.length > 0 && (
              <path
                data-testid="lift-line"
                d={lines.map((run) => linePath(run, x, y)).join("")}
                fill="none"
                stroke={color}
                strokeWidth={2}
                strokeLinejoin="round"
              />
            )}
            {dots.map((v, i) => (
              <circle key={i} cx={fmt(x(v.time))} cy={fmt(y(v.lift as number))} r={2.5} fill={color} />
            ))}
          </g>
        );
      })}
    </svg>
  );
}
