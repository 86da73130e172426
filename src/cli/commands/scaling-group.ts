/** `nubis scaling-group …`: autoscaling groups, named by name or id. */
import type { Command } from 'commander';
import type { ScalingGroup } from '../../client/index.ts';
import { ctx, collect, int, num, numberOf, pair, resourceCommand, type CommandModule } from './common.ts';

const summary = (g: ScalingGroup) =>
  `scaling group ${g.name}: ${g.members.length} member(s), desired ${g.desired} (min ${g.min}, max ${g.max})${g.decision ? `; ${g.decision}` : ''}`;

/** scaling-group create, show, report-metric. */
export const scalingGroupCommands: CommandModule = (program) => {
  const sg = resourceCommand(program, 'scaling-group', 'Autoscaling groups');
  sg.command('create <name>')
    .description('Create an autoscaling group (members spread by soft anti-affinity)')
    .requiredOption('--flavor <flavor>')
    .requiredOption('--image <image>')
    .requiredOption('--min <n>', 'fewest members', int)
    .requiredOption('--max <n>', 'most members', int)
    .option('--desired <n>', 'members to start with', int)
    .requiredOption('--scale-out-above <x>', 'scale out when the metric is above this', num)
    .requiredOption('--scale-in-below <x>', 'scale in when the metric is below this', num)
    .option('--adjustment-type <type>', 'change, exact or percent', 'change')
    .option('--adjustment <x>', 'members (change), size (exact) or % (percent)', num, 1)
    .option('--exact-in <n>', 'size to scale in to (exact)', int)
    .option('--cooldown-s <s>', 'seconds between scalings', num, 300)
    .option('--metric <metric>', "reported (POST .../metrics) or cpu (the members' mean CPU %)")
    .option('--scale-in <which>', 'newest or least-loaded')
    .action(async function (this: Command, name: string, o) {
      const c = ctx(this);
      const g = await c.client.scalingGroups.create({
        name,
        flavor: o.flavor,
        image: o.image,
        min: o.min,
        max: o.max,
        desired: o.desired,
        scaleIn: o.scaleIn,
        policy: {
          scaleOutAbove: o.scaleOutAbove,
          scaleInBelow: o.scaleInBelow,
          adjustmentType: o.adjustmentType,
          adjustment: o.adjustment,
          exactIn: o.exactIn,
          cooldownS: o.cooldownS,
          metric: o.metric,
        },
      });
      c.out(g, () => `${summary(g)} (id ${g.id})`);
    });
  sg.command('show <group>')
    .description('Show a group and its members')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const g = await c.client.scalingGroups.get(ref);
      c.out(g, () => `${summary(g)}\nmembers: ${g.members.join(', ') || '-'}`);
    });
  sg.command('report-metric <group>')
    .argument('<value>', 'the metric now', num)
    .description("Report the group's metric; it scales by its policy")
    .option('--load <vm=value>', "a member's load (repeatable; for scale-in least-loaded)", collect, [])
    .action(async function (this: Command, ref: string, value: number, o: { load: string[] }) {
      const c = ctx(this);
      const loads = Object.fromEntries(
        o.load.map((l) => pair(l, '--load')).map(([k, v]) => [k, numberOf(v, '--load')]),
      );
      const g = await c.client.scalingGroups.reportMetric(ref, value, o.load.length ? loads : undefined);
      c.out(g, () => summary(g));
    });
};
