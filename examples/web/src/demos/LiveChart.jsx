import { useConnect } from "dotnetify";

const windowSize = 30; // waveform points on screen
const W = 560;
const H = 200;
const pad = 28;
const pieColors = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6"];

function LineChart({ rows }) {
  const points = rows.slice(-windowSize).map(([x, y]) => [Number(x), Number(y)]);
  if (points.length === 0) return <svg className="chart" viewBox={`0 0 ${W} ${H}`} />;
  const xs = points.map((p) => p[0]);
  const xMin = Math.min(...xs);
  const xMax = Math.max(xMin + 1, ...xs);
  const sx = (x) => pad + ((x - xMin) / (xMax - xMin)) * (W - 2 * pad);
  const sy = (y) => H / 2 - y * (H / 2 - pad);
  const path = points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Waveform">
      {[-1, 0, 1].map((y) => (
        <g key={y}>
          <line x1={pad} x2={W - pad} y1={sy(y)} y2={sy(y)} className="grid" />
          <text x={4} y={sy(y) + 4} className="axis">
            {y}
          </text>
        </g>
      ))}
      <path d={path} className="line" />
      {points.map(([x, y]) => (
        <circle key={x} cx={sx(x)} cy={sy(y)} r={2.5} className="point" />
      ))}
      <text x={W - pad} y={H - 6} className="axis" textAnchor="end">
        x = {xMax}
      </text>
    </svg>
  );
}

function BarChart({ values }) {
  const max = Math.max(1, ...values);
  const slot = (W - 2 * pad) / Math.max(1, values.length);
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Bars">
      <line x1={pad} x2={W - pad} y1={H - pad} y2={H - pad} className="grid" />
      {values.map((v, i) => {
        const h = (v / max) * (H - 2 * pad);
        return (
          <g key={i}>
            <rect x={pad + i * slot + slot * 0.15} y={H - pad - h} width={slot * 0.7} height={h} className="bar" rx={3} />
            <text x={pad + i * slot + slot / 2} y={H - pad - h - 4} className="axis" textAnchor="middle">
              {v}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

function PieChart({ values }) {
  const total = values.reduce((a, b) => a + b, 0) || 1;
  const r = 70;
  const c = 2 * Math.PI * r;
  let offset = 0;
  return (
    <svg className="chart pie" viewBox="0 0 200 200" role="img" aria-label="Pie">
      <g transform="rotate(-90 100 100)">
        {values.map((v, i) => {
          const len = (v / total) * c;
          const seg = (
            <circle
              key={i}
              cx={100}
              cy={100}
              r={r}
              fill="none"
              stroke={pieColors[i % pieColors.length]}
              strokeWidth={36}
              strokeDasharray={`${len} ${c - len}`}
              strokeDashoffset={-offset}
            />
          );
          offset += len;
          return seg;
        })}
      </g>
    </svg>
  );
}

/** LiveChartVM: the server pushes a new waveform point, bars and pie every second. */
export default function LiveChart() {
  const { state } = useConnect("LiveChartVM", { Waveform: [], Bar: [], Pie: [] });
  const waveform = state.Waveform ?? [];
  const last = waveform[waveform.length - 1];
  return (
    <section className="charts">
      <figure
        className="card"
        data-testid="livechart-waveform"
        data-points={waveform.length}
        data-last-x={last ? last[0] : ""}
      >
        <figcaption>Waveform (sin x/π), last {windowSize} points</figcaption>
        <LineChart rows={waveform} />
      </figure>
      <div className="chart-pair">
        <figure className="card" data-testid="livechart-bar" data-bars={(state.Bar ?? []).length}>
          <figcaption>Bars</figcaption>
          <BarChart values={state.Bar ?? []} />
        </figure>
        <figure className="card" data-testid="livechart-pie" data-slices={(state.Pie ?? []).length}>
          <figcaption>Pie</figcaption>
          <PieChart values={state.Pie ?? []} />
        </figure>
      </div>
    </section>
  );
}
