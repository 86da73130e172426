/** A time-series plot (uPlot: small and fast); x in epoch seconds or hours, one line per series. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const COLORS = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#d97706',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#65a30d',
];

export interface PlotProps {
  title: string;
  /** x values, shared by all series. */
  x: number[];
  series: { label: string; values: (number | null)[] }[];
  yLabel?: string;
  /** x is epoch seconds (time axis) or plain numbers (e.g. hours). */
  xTime?: boolean;
  xLabel?: string;
  height?: number;
  yMax?: number;
}

export function Plot({ title, x, series, yLabel, xTime = true, xLabel, height = 220, yMax }: PlotProps) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = `${title}|${series.map((s) => s.label).join('|')}|${xTime}`;
  useEffect(() => {
    if (!el.current) return;
    const width = Math.max(280, el.current.clientWidth || 480);
    plot.current = new uPlot(
      {
        title,
        width,
        height,
        scales: {
          x: { time: xTime },
          y:
            yMax !== undefined
              ? { range: [0, yMax] }
              : { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        },
        axes: [
          { label: xLabel, stroke: '#475569', grid: { stroke: '#e2e8f0' } },
          { label: yLabel, stroke: '#475569', grid: { stroke: '#e2e8f0' }, size: 56 },
        ],
        series: [
          { label: xLabel ?? 'time' },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            width: 1.6,
            spanGaps: true,
          })),
        ],
        legend: { show: series.length > 1 },
      },
      [x, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el.current,
    );
    const ro = new ResizeObserver(() => {
      if (el.current && plot.current)
        plot.current.setSize({ width: Math.max(280, el.current.clientWidth), height });
    });
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape, height]);
  useEffect(() => {
    plot.current?.setData([x, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [x, series]);
  return (
    <div className="plot-wrap">
      <div className="plot" ref={el} data-testid={`plot-${title}`} />
      {x.length === 0 && <div className="plot-empty">no samples yet</div>}
    </div>
  );
}
