/** Text forms of Raft entries, messages and Readies for scenario files and failure reports (etcd's DescribeMessage style). */
import type { Entry, Message, Ready } from '../../src/raft/index.js';
import type { RaftStatus } from '../../src/raft/index.js';

const dec = new TextDecoder();

export const describeEntry = (e: Entry): string => `${e.term}/${e.index} ${JSON.stringify(dec.decode(e.data))}`;

export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} Term:${m.term}`;
  switch (m.type) {
    case 'MsgApp':
      s += ` Log:${m.logTerm}/${m.index} Commit:${m.commit}`;
      if (m.entries.length > 0) s += ` Entries:[${m.entries.map(describeEntry).join(', ')}]`;
      break;
    case 'MsgAppResp':
      s += ` Index:${m.index}`;
      if (m.reject) s += ` Rejected (Hint: ${m.logTerm}/${m.rejectHint})`;
      break;
    case 'MsgHeartbeat':
      s += ` Commit:${m.commit}`;
      break;
    case 'MsgVote':
    case 'MsgPreVote':
      s += ` Log:${m.logTerm}/${m.index}`;
      break;
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      if (m.reject) s += ' Rejected';
      break;
    case 'MsgProp':
      s += ` Entries:[${m.entries.map((e) => JSON.stringify(dec.decode(e.data))).join(', ')}]`;
      break;
    case 'MsgReadIndexResp':
      s += ` Index:${m.index}`;
      break;
    default:
      break;
  }
  if (m.context !== '') s += ` Context:${m.context}`;
  return s;
}

export function describeReady(rd: Ready): string[] {
  const out = [`Ready MustSync=${rd.mustSync}:`];
  if (rd.softState) out.push(`Lead:${rd.softState.lead} Role:${rd.softState.role}`);
  if (rd.hardState) out.push(`HardState Term:${rd.hardState.term} Vote:${rd.hardState.vote} Commit:${rd.hardState.commit}`);
  if (rd.entries.length > 0) out.push('Entries:', ...rd.entries.map(describeEntry));
  if (rd.committedEntries.length > 0) out.push('CommittedEntries:', ...rd.committedEntries.map(describeEntry));
  if (rd.messages.length > 0) out.push('Messages:', ...rd.messages.map(describeMessage));
  if (rd.readStates.length > 0) out.push('ReadStates:', ...rd.readStates.map((r) => `Index:${r.index} Context:${r.context}`));
  if (rd.rejections.length > 0) {
    out.push('Rejections:', ...rd.rejections.map((r) => `${r.kind}${r.context ? ` ${r.context}` : ''} ${r.code} (leader hint ${r.leaderHint})`));
  }
  return out;
}

export function describeStatus(st: RaftStatus): string[] {
  const out = [`${st.id} ${st.role} Term:${st.term} Vote:${st.vote} Lead:${st.lead} Commit:${st.commit} Applied:${st.applied} Last:${st.lastIndex}`];
  for (const [id, p] of Object.entries(st.progress)) {
    out.push(`  ${id}: ${p.state} match=${p.match} next=${p.next}${p.inflights.length ? ` inflight=${p.inflights.length}` : ''}${p.probeSent ? ' paused' : ''}`);
  }
  return out;
}
