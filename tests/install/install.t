#!/usr/bin/perl
# make install and make uninstall into a scratch DESTDIR: every file where a
# system tool keeps it; --version from the one version; every option of every
# tool's --help in its man page; bash completion offering the tools' options
# and subcommands from the installed binaries; uninstall leaving nothing (an
# edited environment file kept).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use File::Find;
use Test::More;

my @sbin = qw(daxtop daxcheck daxexport);
for my $tool ('daxtrace', @sbin) {
    plan skip_all => "build/$tool missing (a core-only build, LIVE=no: make install installs the live tools)"
      unless -x build() . "/$tool";
}
plan skip_all => 'help2man missing (Debian package help2man: scripts/deps.sh installs it)'
  unless `sh -c 'command -v help2man'`;

my $version = (slurp(top() . '/debian/changelog') =~ /^daxscope \(([^)]+)\)/)[0];
my $dest = scratch_dir();
my $prefix = '/usr/local';
my ($rc, $out, $err) = run_cmd('make', '-C', top(), '--no-print-directory', 'install', "DESTDIR=$dest");
is($rc, 0, 'make install DESTDIR=... (PREFIX /usr/local)') or diag($err);
my $root = "$dest$prefix";

my @expected = ("$prefix/bin/daxtrace", (map { "$prefix/sbin/$_" } @sbin), "$prefix/share/man/man1/daxtrace.1",
    (map { "$prefix/share/man/man8/$_.8" } @sbin), "$prefix/lib/systemd/system/daxexport.service",
    '/etc/default/daxexport', "$prefix/share/daxscope/prometheus/daxscope.rules.yml",
    "$prefix/share/doc/daxscope/README.md", "$prefix/share/doc/daxscope/daxexport.md",
    map { "$prefix/share/bash-completion/completions/$_" } 'daxtrace', @sbin);
ok(-e "$dest$_", "installed: $_") for @expected;
ok(-x "$dest$_", "executable: $_") for "$prefix/bin/daxtrace", map { "$prefix/sbin/$_" } @sbin;
like(slurp("$root/lib/systemd/system/daxexport.service"), qr{^ExecStart=$prefix/sbin/daxexport \$DAXEXPORT_OPTS$}m,
    'the unit starts the installed daxexport, with the options of /etc/default/daxexport');

my %bin = (daxtrace => "$root/bin/daxtrace", map { $_ => "$root/sbin/$_" } @sbin);
my %man = (daxtrace => "$root/share/man/man1/daxtrace.1", map { $_ => "$root/share/man/man8/$_.8" } @sbin);
for my $tool (sort keys %bin) {
    ($rc, $out) = run_cmd($bin{$tool}, '--version');
    is($out, "$tool $version\n", "$tool --version: debian/changelog's version");
    ($rc, $out) = run_cmd($bin{$tool}, '--help');
    my @options = help_options($out);
    ok(@options >= 4, "$tool --help lists its options (" . scalar(@options) . ')');
    my $page = man_text($man{$tool});
    my @missing = grep { $page !~ /(?<![\w-])\Q$_\E(?![\w-])/ } @options;
    is("@missing", '', "$tool: every option of --help is in its man page");
    like($page, qr/^\.SH "?SEE ALSO"?$/m, "$tool: man page has the include file's sections");
}

# The options an argp (or getopt) --help lists: "-x, --long=ARG" at the start of a line.
sub help_options {
    my ($help) = @_;
    my @options;
    for (split /\n/, $help) {
        push @options, $1 if /^\s{1,8}(-[^-\s]),/;
        push @options, $1 if /^\s{1,12}(?:-[^-\s], )?(--[a-z][a-z-]*)/;
    }
    return @options;
}

# A man page's text with roff's escapes undone: \- is a hyphen, \fB... change fonts.
sub man_text {
    my ($file) = @_;
    return slurp($file) =~ s/\\-/-/gr =~ s/\\f[BIRP]//gr =~ s/\\\(/(/gr;
}

SKIP: {
    skip 'bash missing', 7 unless -x '/bin/bash';
    my $completion = "$root/share/bash-completion/completions/daxtrace";
    my $script = scratch_dir() . '/complete.sh';
    open my $fh, '>', $script or die;
    # compopt works only inside a completion bash runs itself
    print $fh <<"EOF";
source '$completion'
compopt() { :; }
complete_line() { COMP_WORDS=("\$@"); COMP_CWORD=\$((\$# - 1)); COMPREPLY=(); _daxscope "\$1"; echo "\${COMPREPLY[*]}"; }
EOF
    close $fh;
    my $complete = sub {
        my ($rc, $out, $err) = run_cmd('/bin/bash', '-c',
            "PATH='$root/bin:$root/sbin:/usr/bin:/bin'; source '$script'; complete_line " . join(' ', map { "'$_'" } @_));
        diag($err) if $err;
        chomp $out;
        return $out;
    };
    is($complete->('daxtrace', ''), 'record report', 'daxtrace <TAB>: its subcommands');
    is($complete->('daxtrace', '--fault-hooks', ''), 'on-demand always', 'daxtrace --fault-hooks <TAB>: its values');
    is($complete->('daxtrace', '--fault-hooks', '=', 'al'), 'always', 'daxtrace --fault-hooks=al<TAB>');
    is($complete->('daxtrace', '--ht'), '--html', 'daxtrace --ht<TAB>');
    my @long = grep { /^--/ } help_options((run_cmd($bin{daxtop}, '--help'))[1]);
    is($complete->('daxtop', '--'), "@long", 'daxtop --<TAB>: every long option of its --help');
    like($complete->('daxcheck', '--scenario', 'mapped_'), qr/^mapped_\w+( mapped_\w+)*$/,
        'daxcheck --scenario mapped_<TAB>: the scenarios daxcheck --list names');
    is($complete->('daxexport', '--listen', ''), '', 'daxexport --listen <TAB>: an address, nothing to offer');
}

# an operator's edit of the environment file survives uninstall; everything else goes
open my $env, '>>', "$dest/etc/default/daxexport" or die;
print $env "DAXEXPORT_OPTS=\"--top 50\"\n";
close $env;
($rc, $out, $err) = run_cmd('make', '-C', top(), '--no-print-directory', 'uninstall', "DESTDIR=$dest");
is($rc, 0, 'make uninstall') or diag($err);
my @left;
find(sub { push @left, $File::Find::name =~ s/^\Q$dest\E//r if !-d $_ }, $dest);
is("@left", '/etc/default/daxexport', 'uninstall removed every file but the edited environment file');
done_testing();
