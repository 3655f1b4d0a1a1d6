import { ExperimentList } from "@/components/experiments/ExperimentList";

export default function HomePage() {
  return <ExperimentList />;
}
