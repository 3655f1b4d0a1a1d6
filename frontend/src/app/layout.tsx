import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { TokenCapture } from "@/components/TokenCapture";
import "@expstream/react/styles.css";
import "./globals.css";

export const metadata: Metadata = {
  title: "expstream",
  description: "Live A/B experiment results",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <TokenCapture />
        <header className="site-header">
          <div className="site-header-inner">
            <Link href="/" className="brand">
              <span className="brand-mark">⚡</span> expstream
            </Link>
          </div>
        </header>
        <main className="page">{children}</main>
      </body>
    </html>
  );
}
