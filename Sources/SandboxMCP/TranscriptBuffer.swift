/// A piece of a `run_python` result, in the order the run made it.
public enum TranscriptItem: Sendable, Equatable {
    case stdout(String)
    case stderr(String)
    /// A display's text form (a display with no PNG or JPEG).
    case displayText(String)
    case image(mimeType: String, base64: String)
    /// An image that did not fit the result's image budget, in its place.
    case imageLeftOut(mimeType: String, base64Bytes: Int, imageBudget: Int)
    /// Output left out here, between the head and the tail.
    case omitted(OmittedAmount)
}

/// What a run made, bounded as it streams: the head of it until half the
/// text budget is used, then a ring of the latest text (the tail) holding
/// the other half; what the ring pushes out is only counted. Images are kept
/// while they fit the image budget, wherever they fall; those made in the
/// part left out are shown after the line that says what was left out.
/// Takes events in `seq` order, the order a connection delivers them.
struct TranscriptBuffer {
    private struct TailEntry {
        var item: TranscriptItem
        /// Text cost, with the JSON of a content item when it starts one.
        var cost: Int
    }

    let budget: ResultBudget
    private let headBudget: Int
    private let tailBudget: Int

    private var head: [TranscriptItem] = []
    private var headCost = 0
    private var headOpen = true
    /// The ring: `tail[tailStart...]` are live.
    private var tail: [TailEntry] = []
    private var tailStart = 0
    private var tailCost = 0
    /// Images pushed out of the ring: kept, shown after the omitted line.
    private var middleImages: [TranscriptItem] = []
    private var omitted = OmittedAmount()
    /// The head's last text was cut by the head budget (not a whole piece).
    private var headCut = false
    /// The ring's front text continues text pushed out, from within a line.
    private var frontMidLine = false
    private var imageBytesKept = 0

    /// What a content item's JSON adds to its text or data (`{"type":"text","text":""},`), rounded up.
    static let itemOverhead = 64

    init(budget: ResultBudget) {
        self.budget = budget
        headBudget = budget.textBytes / 2
        tailBudget = budget.textBytes - budget.textBytes / 2
    }

    mutating func append(_ item: TranscriptItem) {
        var item = item
        if case .image(let mime, let base64) = item {
            let cost = Self.itemOverhead + base64.utf8.count
            if imageBytesKept + cost <= budget.imageBytes {
                imageBytesKept += cost
            } else {
                item = .imageLeftOut(mimeType: mime, base64Bytes: base64.utf8.count, imageBudget: budget.imageBytes)
            }
        }
        if headOpen {
            appendToHead(item)
        } else {
            appendToTail(item)
        }
    }

    /// What the images kept take of the image budget, with their items' JSON.
    var imageBytesUsed: Int { imageBytesKept }

    /// The items to show: all of them when nothing was left out; else the
    /// head, the omitted line, the images made meanwhile, and the tail; cut
    /// at line ends when one is near.
    var items: [TranscriptItem] {
        var head = head
        var tail = tail[tailStart...].map(\.item)
        var omitted = omitted
        guard !omitted.isEmpty || !middleImages.isEmpty else { return Self.merged(head + tail) }
        if headCut, let last = head.last, let text = last.text, !text.hasSuffix("\n"), let newline = text.lastIndex(of: "\n") {
            let rest = text[text.index(after: newline)...]
            if TextMeasure.jsonCost(rest) <= headBudget / 4 {
                omitted.add(rest)
                head[head.count - 1] = last.with(text: String(text[...newline]))
            }
        }
        if frontMidLine, let first = tail.first, let text = first.text, let newline = text.firstIndex(of: "\n") {
            let partial = text[...newline]
            if TextMeasure.jsonCost(partial) <= tailBudget / 4 {
                omitted.add(partial)
                let rest = String(text[text.index(after: newline)...])
                if rest.isEmpty { tail.removeFirst() } else { tail[0] = first.with(text: rest) }
            }
        }
        omitted.imagesKept = middleImages.count
        return Self.merged(head) + [.omitted(omitted)] + middleImages + Self.merged(tail)
    }

    // MARK: Head

    private mutating func appendToHead(_ item: TranscriptItem) {
        guard let text = item.text else {
            // An image is the image budget's; a left-out line is text, and is not cut.
            let cost = Self.cost(of: item, after: head.last)
            if case .image = item {
                head.append(item)
            } else if headCost + cost <= headBudget {
                head.append(item)
                headCost += cost
            } else {
                headOpen = false
                appendToTail(item)
            }
            return
        }
        let fixed = Self.cost(of: item.with(text: ""), after: head.last)
        let cost = fixed + TextMeasure.jsonCost(text)
        if headCost + cost <= headBudget {
            Self.append(item, to: &head)
            headCost += cost
            return
        }
        // The head is full: what fits stays in it, the rest starts the tail.
        headOpen = false
        let (end, fitted) = TextMeasure.prefixEnd(of: text, costAtMost: max(0, headBudget - headCost - fixed))
        if end > text.startIndex {
            Self.append(item.with(text: String(text[..<end])), to: &head)
            headCost += fixed + fitted
        }
        if end < text.endIndex {
            headCut = end > text.startIndex
            appendToTail(item.with(text: String(text[end...])))
        }
    }

    // MARK: Tail

    private mutating func appendToTail(_ item: TranscriptItem) {
        let cost = Self.cost(of: item, after: tail.count > tailStart ? tail.last?.item : nil)
        tail.append(TailEntry(item: item, cost: cost))
        tailCost += cost
        while tailCost > tailBudget, tailStart < tail.count { pushOutFront(excess: tailCost - tailBudget) }
        // Reclaim the pushed-out entries now and then, not on every one.
        if tailStart > 64 && tailStart * 2 > tail.count {
            tail.removeFirst(tailStart)
            tailStart = 0
        }
    }

    /// Takes at least `excess` of cost off the ring's front entry, or all of it.
    private mutating func pushOutFront(excess: Int) {
        let front = tail[tailStart]
        switch front.item {
        case .image:
            middleImages.append(front.item)
            removeFront()
        case .imageLeftOut:
            omitted.imagesLeftOut += 1
            removeFront()
        case .stdout(let text), .stderr(let text), .displayText(let text):
            let fixed = front.cost - TextMeasure.jsonCost(text)
            let start = front.cost - excess > fixed ? TextMeasure.suffixStart(of: text, droppingAtLeast: excess) : text.endIndex
            let dropped = text[..<start]
            omitted.add(dropped)
            let midLine = !dropped.isEmpty && !dropped.hasSuffix("\n")
            if start == text.endIndex {
                removeFront()
                // The next piece of the same stream goes on from where this one stopped.
                if tailStart < tail.count, Self.joinable(front.item, tail[tailStart].item) { frontMidLine = midLine }
            } else {
                frontMidLine = midLine
                let rest = String(text[start...])
                let cost = fixed + TextMeasure.jsonCost(rest)
                tailCost += cost - front.cost
                tail[tailStart] = TailEntry(item: front.item.with(text: rest), cost: cost)
            }
        case .omitted:
            removeFront()
        }
    }

    private mutating func removeFront() {
        let front = tail[tailStart]
        frontMidLine = false
        tailCost -= front.cost
        tailStart += 1
        // A piece that continued the removed one's content item now starts its own.
        guard tailStart < tail.count else { return }
        let next = tail[tailStart]
        let now = Self.cost(of: next.item, after: nil)
        if now != next.cost {
            tailCost += now - next.cost
            tail[tailStart].cost = now
        }
    }

    // MARK: Costs

    /// Text cost of `item` placed after `previous`: stdout after stdout (and
    /// stderr after stderr) joins its content item; anything else starts one.
    private static func cost(of item: TranscriptItem, after previous: TranscriptItem?) -> Int {
        switch item {
        case .stdout(let text), .stderr(let text):
            let joins = previous.map { joinable($0, item) } ?? false
            let label = if case .stderr = item { TextMeasure.jsonCost(RunReport.stderrLabel) } else { 0 }
            return (joins ? 0 : itemOverhead + label) + TextMeasure.jsonCost(text)
        case .displayText(let text):
            return itemOverhead + TextMeasure.jsonCost(text)
        case .image:
            return 0  // counted against the image budget
        case .imageLeftOut(let mimeType, let base64Bytes, let imageBudget):
            let note = RunReport.imageLeftOutNote(mimeType: mimeType, base64Bytes: base64Bytes, imageBudget: imageBudget)
            return itemOverhead + TextMeasure.jsonCost(note)
        case .omitted:
            return 0  // made when the items are shown, within the reserve
        }
    }

    private static func joinable(_ first: TranscriptItem, _ second: TranscriptItem) -> Bool {
        switch (first, second) {
        case (.stdout, .stdout), (.stderr, .stderr): true
        default: false
        }
    }

    private static func append(_ item: TranscriptItem, to items: inout [TranscriptItem]) {
        if let last = items.last, joinable(last, item), let before = last.text, let text = item.text {
            items[items.count - 1] = last.with(text: before + text)
        } else {
            items.append(item)
        }
    }

    /// Adjacent pieces of one stream as one.
    private static func merged(_ items: [TranscriptItem]) -> [TranscriptItem] {
        var merged: [TranscriptItem] = []
        for item in items { append(item, to: &merged) }
        return merged
    }
}

extension TranscriptItem {
    /// The text of stdout, stderr and a display's text form.
    var text: String? {
        switch self {
        case .stdout(let text), .stderr(let text), .displayText(let text): text
        default: nil
        }
    }

    /// The same kind of item with other text.
    func with(text: String) -> TranscriptItem {
        switch self {
        case .stdout: .stdout(text)
        case .stderr: .stderr(text)
        case .displayText: .displayText(text)
        default: self
        }
    }
}
