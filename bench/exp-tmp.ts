import { readFileSync } from 'node:fs';
import { decodeForHashing } from '../src/image/decode.js';
import { IntegralImage, hashRegion } from '../src/hashing/pdq-region.js';
import { hammingDistance } from '../src/hashing/hamming.js';
const m = JSON.parse(readFileSync('corpus/quality/manifest.json','utf8'));
const res: Record<string, number[]> = {};
for (const p of m.photos.filter((_: any, i: number) => i % 9 === 0)) {
  const { raster } = await decodeForHashing(readFileSync(p.path), 'fast');
  const img = IntegralImage.fromRaster(raster);
  const W = img.width, H = img.height;
  const base = { x: 0.2*W, y: 0.2*H, width: 0.5*W, height: 0.5*H };
  const h0 = hashRegion(img, base).hash;
  for (const d of [0.01, 0.02, 0.03, 0.04, 0.06, 0.08]) {
    const shift = hashRegion(img, { ...base, x: base.x + d*base.width }).hash;
    const scale = hashRegion(img, { x: base.x - d*base.width/2, y: base.y - d*base.height/2, width: base.width*(1+d), height: base.height*(1+d) }).hash;
    const edge = hashRegion(img, { ...base, width: base.width*(1+d) }).hash;
    (res[`shift ${d}`] ??= []).push(hammingDistance(h0, shift));
    (res[`scale ${d}`] ??= []).push(hammingDistance(h0, scale));
    (res[`edge ${d}`] ??= []).push(hammingDistance(h0, edge));
  }
}
for (const [k, v] of Object.entries(res)) { v.sort((a,b)=>a-b); console.log(k.padEnd(12), 'median', v[v.length>>1], 'p90', v[Math.floor(v.length*0.9)], 'max', v[v.length-1]); }
