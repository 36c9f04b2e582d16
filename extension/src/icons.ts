/** The labdeck icon: a gauge over a deck, drawn in JupyterLab's icon colour. */
import { LabIcon } from '@jupyterlab/ui-components';

const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 4a9 9 0 0 0-9 9h2a7 7 0 0 1 14 0h2a9 9 0 0 0-9-9z"/>
    <path d="M12.9 13.6 17 8.5l-5.7 3.4a1.6 1.6 0 1 0 1.6 1.7z"/>
    <rect x="3" y="16" width="18" height="2.2" rx="1.1"/>
    <rect x="5" y="19.6" width="14" height="2" rx="1"/>
  </g>
</svg>`;

export const labdeckIcon = new LabIcon({ name: 'labdeck:icon', svgstr: SVG });
