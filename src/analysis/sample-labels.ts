/**
 * Per-sample labels for exporters (pprof, speedscope): the container a sample ran in, how its time
 * is classified (user, syscall, page fault, ...) and its syscall, exactly as `analyze` decides them.
 */
import type { Profile } from '../model/profile.ts';
import { refineCategory } from './analyze.ts';
import { Attributions, type Category } from './attribute.ts';
import type { NameResolver } from './container-index.ts';
import { type ContainerIdentity, containerOf } from './containers.ts';

export interface SampleLabelOptions {
  /** Names for container ids (from a run's engines). Default: the names containerOf gives. */
  nameOf?: NameResolver;
  /** Stack attributions to reuse. Default: computed here. */
  attributions?: Attributions;
}

export class SampleLabels {
  private readonly attributions: Attributions;
  private readonly nameOf: NameResolver;
  private readonly byCgroup = new Map<number, ContainerIdentity>();

  constructor(
    private readonly profile: Profile,
    opts: SampleLabelOptions = {},
  ) {
    this.attributions = opts.attributions ?? new Attributions(profile);
    this.nameOf = opts.nameOf ?? ((i) => i);
  }

  /** The container of sample `i` (per host: the host is a separate label). */
  container(i: number): ContainerIdentity {
    const cg = this.profile.samples.cgroup[i];
    let id = this.byCgroup.get(cg);
    if (id === undefined) {
      id = this.nameOf(containerOf(this.profile.strings[cg]));
      this.byCgroup.set(cg, id);
    }
    return id;
  }

  category(i: number): Category {
    const { samples, strings } = this.profile;
    const a = this.attributions.of(samples.stack[i]);
    return refineCategory(a.category, a.kernelOnly, strings[samples.comm[i]], samples.pid[i]);
  }

  /** The syscall whose kernel time sample `i` is, or null (user time, faults, interrupts, ...). */
  syscall(i: number): string | null {
    const a = this.attributions.of(this.profile.samples.stack[i]);
    return a.category === 'syscall' ? a.syscall : null;
  }
}
