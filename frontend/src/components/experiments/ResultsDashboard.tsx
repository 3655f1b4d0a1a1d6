"use client";

import Link from "next/link";
import { useId, useState, type KeyboardEvent } from "react";
import { ApiError, apiRefusalMessage } from "@expstream/client";
import { ExperimentStatusBadge, LiveResultsPanel, type UseExperimentStreamOptions } from "@expstream/react";
import { useAlerts } from "@/hooks/useAlerts";
import { useExperiment } from "@/hooks/useExperiments";
import { dashboardClientOptions } from "@/lib/clientOptions";
import styles from "./Dashboard.module.css";
import { BreakdownPanel } from "./BreakdownPanel";
import { ExperimentAlerts } from "./ExperimentAlerts";
import { ExperimentDetails } from "./ExperimentDetails";

const TABS = [
  { id: "live", label: "⚡ Live" },
  { id: "breakdown", label: "Breakdown" },
  { id: "details", label: "Details" },
  { id: "alerts", label: "Alerts" },
] as const;

type TabId = (typeof TABS)[number]["id"];

export interface ResultsDashboardProps {
  experimentId: string;
  /** Stream tuning (ResultsPage takes it from the query string); the API base and token are the dashboard's. */
  streamOptions?: UseExperimentStreamOptions;
}

/** Results page body: header with the experiment's name, and tabs (Live first, then Details, Alerts). */
export function ResultsDashboard({ experimentId, streamOptions }: ResultsDashboardProps) {
  const [selected, setSelected] = useState<TabId>("live");
  const experiment = useExperiment(experimentId);
  // Fetched when the tab is first opened (and again on its Refresh), not with every page load.
  const alerts = useAlerts(selected === "alerts" ? experimentId : null);
  const baseId = useId();
  const tabId = (tab: TabId) => `${baseId}-tab-${tab}`;
  const panelId = (tab: TabId) => `${baseId}-panel-${tab}`;

  const notFound = experiment.error instanceof ApiError && experiment.error.status === 404;
  const refusal = apiRefusalMessage(experiment.error);
  const title = experiment.data?.name ?? (notFound ? "Unknown experiment" : experiment.loading ? "Loading…" : "Experiment");

  function onTabKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const index = TABS.findIndex((tab) => tab.id === selected);
    const step = event.key === "ArrowRight" ? 1 : -1;
    const next = TABS[(index + step + TABS.length) % TABS.length].id;
    setSelected(next);
    document.getElementById(tabId(next))?.focus();
  }

  return (
    <div data-testid="results-dashboard">
      <header className={styles.header}>
        <Link href="/" className={styles.back} data-testid="back-link">
          ← All experiments
        </Link>
        <h1 className={styles.title} data-testid="experiment-name">
          {title}
          {experiment.data && <ExperimentStatusBadge status={experiment.data.status} />}
        </h1>
        <span className={styles.subtitle}>
          <code>{experimentId}</code>
        </span>
        {refusal && (
          <p className={styles.accessError} role="alert" data-testid="access-error">
            {refusal}
          </p>
        )}
      </header>

      <div role="tablist" aria-label="Experiment views" className={styles.tabs} onKeyDown={onTabKeyDown}>
        {TABS.map((tab) => (
          <button
            key={tab.id}
            type="button"
            role="tab"
            id={tabId(tab.id)}
            aria-controls={panelId(tab.id)}
            aria-selected={selected === tab.id}
            tabIndex={selected === tab.id ? 0 : -1}
            className={styles.tab}
            data-testid={`tab-${tab.id}`}
            onClick={() => setSelected(tab.id)}
          >
            {tab.label}
          </button>
        ))}
      </div>

      {/* The live panel stays mounted while hidden so the stream keeps running. */}
      <div role="tabpanel" id={panelId("live")} aria-labelledby={tabId("live")} hidden={selected !== "live"}>
        <LiveResultsPanel experimentId={experimentId} options={{ ...dashboardClientOptions(), ...streamOptions }} />
      </div>
      <div role="tabpanel" id={panelId("breakdown")} aria-labelledby={tabId("breakdown")} hidden={selected !== "breakdown"}>
        {selected === "breakdown" && experiment.data && (
          <BreakdownPanel experimentId={experimentId} dimensions={experiment.data.dimensions ?? []} />
        )}
      </div>
      <div role="tabpanel" id={panelId("details")} aria-labelledby={tabId("details")} hidden={selected !== "details"}>
        {selected === "details" && <ExperimentDetails resource={experiment} />}
      </div>
      <div role="tabpanel" id={panelId("alerts")} aria-labelledby={tabId("alerts")} hidden={selected !== "alerts"}>
        {selected === "alerts" && <ExperimentAlerts resource={alerts} />}
      </div>
    </div>
  );
}
