/// The frame every report page shares: one self-contained HTML document — its CSS inline, no
/// script, no external asset (not even a favicon: `data:,` keeps the browser from asking) — so the
/// served page satisfies `default-src 'none'` and the file opens anywhere, offline, and prints.
enum ReportDocument {
    /// `signOutToken`: the served pages' header carries the campaign list and a sign-out form;
    /// nil for the file and the sign-in page.
    static func render(title: String, signOutToken: String? = nil, body: String) -> String {
        var header = #"<header class="top"><span class="brand">StableID</span>"#
        if let signOutToken {
            header += #"<nav><a href="\#(ReportPaths.campaigns)">Campaigns</a></nav>"#
            header += #"<form method="post" action="\#(ReportPaths.logout)" class="signout">"#
            header += hiddenCSRF(signOutToken)
            header += #"<button type="submit">Sign out</button></form>"#
        }
        header += "</header>"
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>\(HTML.escape(title)) · StableID</title>
            <link rel="icon" href="data:,">
            <style>\(style)</style>
            </head>
            <body>
            \(header)
            <main>
            \(body)
            </main>
            </body>
            </html>

            """
    }

    /// The hidden field every form of a signed-in page carries.
    static func hiddenCSRF(_ token: String) -> String {
        #"<input type="hidden" name="csrf" value="\#(HTML.escape(token))">"#
    }

    /// Plain, print-first styling: dark text on white, tables that break across pages by row,
    /// the chart's colours kept when printed, forms and navigation left off paper.
    static let style = """
        :root{color-scheme:light}
        *{box-sizing:border-box}
        body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;background:#fff}
        header.top{display:flex;gap:1.5rem;align-items:center;padding:.6rem 1.5rem;border-bottom:1px solid #e5e7eb}
        header.top .brand{font-weight:700}
        header.top nav{flex:1}
        header.top form{margin:0}
        main{max-width:1100px;margin:0 auto;padding:1rem 1.5rem 3rem}
        h1{font-size:1.6rem;margin:.6rem 0 .2rem}
        h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:1px solid #e5e7eb;padding-bottom:.2rem}
        h3{font-size:1rem;margin:1.2rem 0 .4rem}
        a{color:#1d4ed8}
        dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.6rem 0}
        dl.facts dt{color:#4b5563}
        dl.facts dd{margin:0}
        .numbers{display:flex;flex-wrap:wrap;gap:1rem;margin:.6rem 0}
        .number{border:1px solid #e5e7eb;border-radius:6px;padding:.5rem .9rem;min-width:10rem}
        .number .value{font-size:1.5rem;font-weight:600;font-variant-numeric:tabular-nums}
        .number .label{color:#4b5563;font-size:.85rem}
        table{border-collapse:collapse;width:100%;margin:.4rem 0}
        th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #e5e7eb;vertical-align:top}
        td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
        tr{break-inside:avoid}
        code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85em;word-break:break-all}
        details{margin:.3rem 0;border:1px solid #e5e7eb;border-radius:6px;padding:.3rem .7rem}
        summary{cursor:pointer;font-weight:600}
        .muted{color:#4b5563}
        .error{color:#991b1b;font-weight:600}
        .empty{padding:1rem;border:1px dashed #9ca3af;border-radius:6px;color:#4b5563}
        figure{margin:.6rem 0}
        svg.chart{width:100%;height:auto;max-height:420px;print-color-adjust:exact;-webkit-print-color-adjust:exact}
        svg.chart text{font:12px system-ui,sans-serif;fill:#374151}
        svg.chart .chart-title{font-size:14px;font-weight:600;fill:#111827}
        ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;padding:0;margin:.3rem 0}
        ul.legend svg{vertical-align:middle;margin-right:.3rem}
        form.lookup{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.6rem 0}
        label{display:flex;flex-direction:column;gap:.2rem;font-size:.9rem}
        input[type=text],input[type=password]{font:inherit;padding:.35rem .5rem;min-width:22rem;border:1px solid #9ca3af;border-radius:4px}
        button{font:inherit;padding:.35rem .9rem;border:1px solid #1d4ed8;background:#1d4ed8;color:#fff;border-radius:4px;cursor:pointer}
        header.top button{background:#fff;color:#1d4ed8}
        .signin{max-width:32rem;margin:3rem auto}
        .signin form{display:flex;flex-direction:column;gap:.8rem}
        @media print{
          header.top,form,.no-print{display:none !important}
          main{max-width:none;padding:0}
          body{font-size:11pt}
          details{border:none;padding:0}
          details>summary{list-style:none}
          h2{break-after:avoid}
          figure{break-inside:avoid}
          a{color:inherit;text-decoration:none}
        }
        """
}
