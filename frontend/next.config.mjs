// Static export: the Python server serves the files from frontend/out.
//   /                      -> out/index.html
//   /results/<any-id>/     -> out/results/_/index.html (the client reads the id from the URL)

// The registry reachable here has no macOS/Windows @next/swc builds, so the
// lockfile only lists the Linux ones; stop `next build` from trying to "patch"
// package-lock.json over the network.
process.env.NEXT_IGNORE_INCORRECT_LOCKFILE ??= "1";

/** @type {import('next').NextConfig} */
const nextConfig = {
  output: "export",
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  // `npm run lint` (eslint.config.mjs, zero warnings allowed) is the lint gate; `next build`
  // would only run a laxer copy of it again.
  eslint: { ignoreDuringBuilds: true },
};

export default nextConfig;
