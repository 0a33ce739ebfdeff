/** An incremental text/event-stream decoder (WHATWG rules): bytes in, complete events out.
 * Events, lines and UTF-8 characters may be split anywhere across reads; CR, LF and CRLF line
 * ends, comment (keep-alive) lines, multi-line data and a leading BOM are handled. */

export interface ServerSentEvent {
  data: string;
  event: string;
  id: string | null;
  retry: number | null;
}

export class SSEDecoder {
  // ignoreBOM: the decoder would strip a leading BOM itself, and consume() strips one more: a
  // stream's first U+FEFF is the BOM (WHATWG), a second one is text.
  private readonly utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
  private buffer = '';
  private started = false;
  private data: string[] = [];
  private event = '';
  private lastId: string | null = null;
  private retry: number | null = null;

  feed(chunk: Uint8Array): ServerSentEvent[] {
    return this.consume(this.utf8.decode(chunk, { stream: true }), false);
  }

  /** End of input: the last line and a last event even without their terminators. */
  flush(): ServerSentEvent[] {
    const events = this.consume(this.utf8.decode(), true);
    if (this.buffer) {
      events.push(...this.line(this.buffer));
      this.buffer = '';
    }
    events.push(...this.line(''));
    return events;
  }

  private consume(text: string, final: boolean): ServerSentEvent[] {
    if (!this.started && text) {
      this.started = true; // the first character decoded: a BOM only if it is U+FEFF
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const buffer = this.buffer + text;
    const events: ServerSentEvent[] = [];
    let position = 0;
    const lineEnd = /\r\n|\r|\n/g;
    for (let match = lineEnd.exec(buffer); match; match = lineEnd.exec(buffer)) {
      // A CR at the very end may be the first half of a CRLF split across reads.
      if (match[0] === '\r' && match.index + 1 === buffer.length && !final) break;
      events.push(...this.line(buffer.slice(position, match.index)));
      position = match.index + match[0].length;
    }
    this.buffer = buffer.slice(position);
    return events;
  }

  private line(line: string): ServerSentEvent[] {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return []; // a comment: keep-alive
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') this.data.push(value);
    else if (name === 'event') this.event = value;
    else if (name === 'id') {
      if (!value.includes('\0')) this.lastId = value;
    } else if (name === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    return [];
  }

  private dispatch(): ServerSentEvent[] {
    if (this.data.length === 0) {
      this.event = '';
      return [];
    }
    const event: ServerSentEvent = {
      data: this.data.join('\n'),
      event: this.event || 'message',
      id: this.lastId,
      retry: this.retry,
    };
    this.data = [];
    this.event = '';
    return [event];
  }
}
