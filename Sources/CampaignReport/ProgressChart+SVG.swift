import Foundation
import IdentityMap
import UserMigration

extension ProgressChart {
    static let gridColour = "#e5e7eb"
    static let axisColour = "#6b7280"
    static let todayColour = "#9ca3af"

    /// The chart with its legend and a caption that states the projection, or the empty state.
    public func html() -> String {
        guard !isEmpty else {
            return #"<p class="empty" id="progress-empty">Nothing has been migrated yet: "#
                + "the curve appears with the first link into the target pool.</p>"
        }
        return "<figure>" + svg() + legend() + "<figcaption>" + HTML.escape(caption) + "</figcaption></figure>"
    }

    /// The `<svg>` element alone.
    public func svg() -> String {
        let layout = ChartLayout(progress)
        let title = "Migrated identities by day: \(progress.campaign.name)"
        let size = "0 0 \(Int(ChartLayout.width)) \(Int(ChartLayout.height))"
        var out = #"<svg id="progress-chart" class="chart" data-points="\#(progress.days.count)" viewBox="\#(size)" "#
        out += #"role="img" aria-labelledby="progress-chart-title">"#
        out += #"<title id="progress-chart-title">\#(HTML.escape(title))</title>"#
        out += #"<text class="chart-title" x="\#(Int(ChartLayout.left))" y="22">Migrated identities, cumulative, by path</text>"#
        out += axes(layout)
        out += levelLine(layout)
        for path in paths {
            let points = runningLinks(of: path).enumerated().map { layout.point($0.offset, Double($0.element)) }
            out += polyline(points, colour: Self.colour(of: path), width: 1.5, attributes: #"class="path" data-path="\#(path.rawValue)""#)
        }
        out += projectionLines(layout)
        let total = progress.days.enumerated().map { layout.point($0.offset, Double($0.element.cumulative)) }
        out += polyline(total, colour: Self.totalColour, width: 2.5, attributes: #"class="total""#)
        out += points(layout)
        return out + "</svg>"
    }

    /// Grid lines with counts on y; up to six dates on x.
    func axes(_ layout: ChartLayout) -> String {
        let (left, right, bottom) = (Int(ChartLayout.left), Int(ChartLayout.right), Int(ChartLayout.bottom))
        var out = #"<g class="axes">"#
        for value in stride(from: 0, through: layout.yTop, by: layout.step) {
            let y = ChartLayout.coordinate(layout.y(Double(value)))
            out += #"<line x1="\#(left)" x2="\#(right)" y1="\#(y)" y2="\#(y)" stroke="\#(Self.gridColour)" stroke-width="1"/>"#
            out += #"<text x="\#(left - 6)" y="\#(y)" dy="4" text-anchor="end">\#(ReportFormat.count(value))</text>"#
        }
        let labels = min(6, layout.lastIndex + 1)
        var seen: Set<Int> = []
        for k in 0..<labels {
            let index = Int((Double(k) * Double(layout.lastIndex) / Double(max(labels - 1, 1))).rounded())
            guard seen.insert(index).inserted else { continue }
            let anchor = index == 0 ? "start" : index == layout.lastIndex ? "end" : "middle"
            let x = ChartLayout.coordinate(layout.x(index))
            out += #"<line x1="\#(x)" x2="\#(x)" y1="\#(bottom)" y2="\#(bottom + 5)" stroke="\#(Self.axisColour)"/>"#
            out += #"<text x="\#(x)" y="\#(bottom + 20)" text-anchor="\#(anchor)">\#(ReportFormat.day(layout.day(at: index)))</text>"#
        }
        out += #"<line x1="\#(left)" x2="\#(right)" y1="\#(bottom)" y2="\#(bottom)" stroke="\#(Self.axisColour)"/>"#
        return out + "</g>"
    }

    /// The share the projection looks for, as a faint line: `99.0 % migrated`.
    func levelLine(_ layout: ChartLayout) -> String {
        guard layout.total > 0, !layout.projection.isEmpty else { return "" }
        let (left, right) = (Int(ChartLayout.left), Int(ChartLayout.right))
        let y = ChartLayout.coordinate(layout.y(Double(layout.total) * (1 - progress.projection.level)))
        let label = ReportFormat.share(1 - progress.projection.level) + " migrated"
        var out = #"<g class="level"><line x1="\#(left)" x2="\#(right)" y1="\#(y)" y2="\#(y)" stroke="\#(Self.projectionColour)" "#
        out += #"stroke-width="1" stroke-dasharray="2 4" opacity="0.6"/>"#
        out += #"<text x="\#(right)" y="\#(y)" dy="-4" text-anchor="end">\#(HTML.escape(label))</text></g>"#
        return out
    }

    /// The fitted curve: solid up to today, dashed after, with a mark at today.
    func projectionLines(_ layout: ChartLayout) -> String {
        let fitted = layout.projection.filter { $0.index <= layout.lastDay }
        let ahead = layout.projection.filter { $0.index > layout.lastDay }
        guard !ahead.isEmpty || fitted.count > 1 else { return "" }
        var out = #"<g class="projection-group">"#
        if fitted.count > 1 {
            let points = fitted.map { layout.point($0.index, $0.migrated) }
            out += polyline(points, colour: Self.projectionColour, width: 1.5, attributes: #"class="fit" opacity="0.7""#)
        }
        // Continuous with the fit: the dashed part starts at the last fitted point.
        let dashed = (fitted.last.map { [$0] } ?? []) + ahead
        if dashed.count > 1 {
            let points = dashed.map { layout.point($0.index, $0.migrated) }
            out += polyline(points, colour: Self.projectionColour, width: 2, attributes: #"class="projection" stroke-dasharray="6 4""#)
            let (x, top, bottom) = (ChartLayout.coordinate(layout.x(layout.lastDay)), Int(ChartLayout.top), Int(ChartLayout.bottom))
            out += #"<line class="today" x1="\#(x)" x2="\#(x)" y1="\#(top)" y2="\#(bottom)" stroke="\#(Self.todayColour)" "#
            out += #"stroke-dasharray="3 3"/><text x="\#(x)" y="\#(top - 4)" text-anchor="middle">today</text>"#
        }
        return out + "</g>"
    }

    /// One point per day of the curve, each named by its day for the browser test and a tooltip.
    func points(_ layout: ChartLayout) -> String {
        var out = #"<g class="points">"#
        for (index, day) in progress.days.enumerated() {
            let name = ReportFormat.day(day.day)
            let tip = "\(name): \(ReportFormat.count(day.cumulative)) migrated, \(ReportFormat.count(day.total)) linked that day"
            let (x, y) = (ChartLayout.coordinate(layout.x(index)), ChartLayout.coordinate(layout.y(Double(day.cumulative))))
            out += #"<circle class="point" data-day="\#(name)" data-cumulative="\#(day.cumulative)" cx="\#(x)" cy="\#(y)" "#
            out += #"r="3" fill="\#(Self.totalColour)"><title>\#(HTML.escape(tip))</title></circle>"#
        }
        return out + "</g>"
    }

    func polyline(_ points: [String], colour: String, width: Double, attributes: String) -> String {
        let stroke = #"fill="none" stroke="\#(colour)" stroke-width="\#(ChartLayout.coordinate(width))" stroke-linejoin="round""#
        return #"<polyline \#(attributes) points="\#(points.joined(separator: " "))" \#(stroke)/>"#
    }

    /// The paths drawn, with their totals, then the total and the projection.
    func legend() -> String {
        func swatch(_ colour: String, dashed: Bool = false) -> String {
            let dash = dashed ? #" stroke-dasharray="4 3""# : ""
            return #"<svg width="22" height="8" aria-hidden="true"><line x1="0" x2="22" y1="4" y2="4" "#
                + #"stroke="\#(colour)" stroke-width="3"\#(dash)/></svg>"#
        }
        var out = #"<ul class="legend">"#
        for path in paths {
            out += "<li>" + swatch(Self.colour(of: path)) + HTML.escape(path.rawValue) + " "
            out += #"<span class="muted">\#(ReportFormat.count(progress.totals[path] ?? 0))</span></li>"#
        }
        out += "<li>" + swatch(Self.totalColour) + "total (active target identities)</li>"
        if !progress.projection.curve.isEmpty { out += "<li>" + swatch(Self.projectionColour, dashed: true) + "projection</li>" }
        return out + "</ul>"
    }

    /// The projection in words: its date and how sure it is, or why there is none.
    var caption: String {
        let projection = progress.projection
        let level = ReportFormat.share(projection.level)
        let window = "the last \(projection.windowDays) days"
        if let date = projection.reachesLevelOn {
            var facts: [String] = []
            if let halfLife = projection.halfLifeDays { facts.append("half-life \(ReportFormat.decimal(halfLife, digits: 1)) days") }
            if let rSquared = projection.rSquared { facts.append("R² \(ReportFormat.decimal(rSquared, digits: 2))") }
            facts.append("fitted on \(projection.pointsUsed) days of \(window)")
            return "Projection: fewer than \(level) of source users left on \(ReportFormat.day(date)) (\(facts.joined(separator: ", ")))."
        }
        switch projection.unavailable {
        case .tooFewDays:
            return "No projection yet: the fit needs more days with users remaining (\(projection.pointsUsed) of \(window))."
        case .notDecaying:
            return "No projection: the remaining count is not falling over \(window)."
        case .reached:
            return "Fewer than \(level) of source users remain: the level is reached."
        case nil:
            return "No projection."
        }
    }
}
