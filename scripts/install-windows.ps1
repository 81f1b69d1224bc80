<#
.SYNOPSIS
  Installs, starts, stops or uninstalls kassir-agent as a Windows service (WinSW).

.DESCRIPTION
  Run from an elevated PowerShell (Run as administrator). Files it uses, looked
  up next to this script first, then in the repository layout:
    kassir-agent.exe   the single executable    (dist-sea\win-x64\, npm run build:sea)
    kassir-agent.xml   the WinSW service file   (windows\)
    agent.yaml         the example config       (windows\)
    WinSW-x64.exe      WinSW v2.12+ or v3, downloaded by you from
                       https://github.com/winsw/winsw/releases: put it next to
                       this script (or in windows\), or pass -WinSW PATH.

  -Install copies kassir-agent.exe, WinSW (as kassir-agent-service.exe) and the
  service file (as kassir-agent-service.xml) to -InstallDir, creates
  %ProgramData%\kassir-agent (config, data, logs; SYSTEM and Administrators
  only), copies the example config there if there is none, checks the config
  and registers the service. Run it again to upgrade: a running service is
  stopped for the copy and started again.
  -Uninstall removes the service and the program folder; the config, the data
  (reports not yet delivered may be there) and the logs stay unless -RemoveData.

.EXAMPLE
  .\install-windows.ps1 -Install -Start
.EXAMPLE
  .\install-windows.ps1 -Stop
.EXAMPLE
  .\install-windows.ps1 -Uninstall
#>
[CmdletBinding()]
param(
  [switch]$Install,
  [switch]$Start,
  [switch]$Stop,
  [switch]$Uninstall,
  [switch]$Status,
  [switch]$RemoveData,
  [string]$InstallDir = (Join-Path $env:ProgramFiles 'kassir-agent'),
  [string]$WinSW = ''
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$ServiceId = 'kassir-agent'
# Fixed because kassir-agent.xml names it (%ProgramData%\kassir-agent).
$DataRoot = Join-Path $env:ProgramData 'kassir-agent'
$ConfigFile = Join-Path $DataRoot 'agent.yaml'
$AgentExe = Join-Path $InstallDir 'kassir-agent.exe'
$ServiceExe = Join-Path $InstallDir 'kassir-agent-service.exe'
$ServiceXml = Join-Path $InstallDir 'kassir-agent-service.xml'
$RepoRoot = Split-Path -Parent $PSScriptRoot

function Fail([string]$Message) {
  Write-Error "install-windows.ps1: $Message" -ErrorAction Continue
  exit 1
}

function Assert-Administrator {
  $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
  $principal = New-Object Security.Principal.WindowsPrincipal($identity)
  if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Fail 'run this from an elevated PowerShell (Run as administrator)'
  }
}

# The first of $Candidates that exists, or a clear error naming all of them.
function Find-Source([string]$What, [string[]]$Candidates) {
  foreach ($c in $Candidates) {
    if ($c -and (Test-Path -LiteralPath $c -PathType Leaf)) { return (Resolve-Path -LiteralPath $c).Path }
  }
  Fail "$What not found; looked for: $($Candidates -join ', ')"
}

function Get-AgentService {
  return Get-Service -Name $ServiceId -ErrorAction SilentlyContinue
}

# Runs a program and fails on a non-zero exit code ($ErrorActionPreference does not cover native programs).
function Invoke-Native([string]$Program, [string[]]$Arguments, [string]$What) {
  & $Program @Arguments
  if ($LASTEXITCODE -ne 0) { Fail "$What failed (exit code $LASTEXITCODE)" }
}

function Test-AgentConfig {
  # Exit code 2 with "key: problem" lines on the console means a config error.
  Invoke-Native $AgentExe @('check-config', '--config', $ConfigFile) "check-config of $ConfigFile"
}

function Stop-AgentService {
  $svc = Get-AgentService
  if ($svc -and $svc.Status -ne 'Stopped') {
    Write-Host "Stopping $ServiceId (the agent finishes its work in up to 10 s)..."
    Stop-Service -Name $ServiceId
    (Get-AgentService).WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
  }
}

function Install-Agent {
  $exe = Find-Source 'kassir-agent.exe' @((Join-Path $PSScriptRoot 'kassir-agent.exe'), (Join-Path $RepoRoot 'dist-sea\win-x64\kassir-agent.exe'))
  $xml = Find-Source 'kassir-agent.xml' @((Join-Path $PSScriptRoot 'kassir-agent.xml'), (Join-Path $RepoRoot 'windows\kassir-agent.xml'))
  $example = Find-Source 'agent.yaml (example config)' @((Join-Path $PSScriptRoot 'agent.yaml'), (Join-Path $RepoRoot 'windows\agent.yaml'))
  $winsw = Find-Source 'WinSW-x64.exe (download it from https://github.com/winsw/winsw/releases)' @($WinSW, (Join-Path $PSScriptRoot 'WinSW-x64.exe'), (Join-Path $RepoRoot 'windows\WinSW-x64.exe'))

  # An upgrade: the running executables are locked, stop first and start again after.
  $svc = Get-AgentService
  $wasRunning = [bool]($svc -and $svc.Status -eq 'Running')
  Stop-AgentService

  New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
  Copy-Item -LiteralPath $exe -Destination $AgentExe -Force
  Copy-Item -LiteralPath $winsw -Destination $ServiceExe -Force
  Copy-Item -LiteralPath $xml -Destination $ServiceXml -Force
  $license = Join-Path (Split-Path -Parent $exe) 'NODE-LICENSE.txt'
  if (Test-Path -LiteralPath $license) { Copy-Item -LiteralPath $license -Destination $InstallDir -Force }

  # Config, data and logs: the config may hold passwords and the data holds the
  # back office's data, so only SYSTEM (S-1-5-18) and Administrators
  # (S-1-5-32-544) get in. SIDs, not names: names differ by Windows language.
  foreach ($d in @($DataRoot, (Join-Path $DataRoot 'data'), (Join-Path $DataRoot 'log'))) {
    New-Item -ItemType Directory -Force -Path $d | Out-Null
  }
  Invoke-Native 'icacls.exe' @($DataRoot, '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F', '/T', '/Q') "restricting access to $DataRoot"

  if (Test-Path -LiteralPath $ConfigFile) {
    Write-Host "Keeping the existing $ConfigFile"
  } else {
    Copy-Item -LiteralPath $example -Destination $ConfigFile
    Write-Host "Wrote $ConfigFile from the example: set the till folder and the transport there."
  }
  Test-AgentConfig

  if (Get-AgentService) {
    # WinSW reads the copied .xml at every start; the account, start mode and
    # failure actions were registered at the first install and are kept.
    Write-Host "Service $ServiceId already registered; program and service file updated."
  } else {
    Invoke-Native $ServiceExe @('install') "registering the service with WinSW"
    Write-Host "Service $ServiceId registered (starts automatically at boot)."
  }
  if ($wasRunning) { Start-AgentService }
}

function Start-AgentService {
  if (-not (Get-AgentService)) { Fail "service $ServiceId is not installed (-Install first)" }
  Test-AgentConfig
  Start-Service -Name $ServiceId
  Write-Host "Started $ServiceId. Logs: $(Join-Path $DataRoot 'log')"
}

function Uninstall-Agent {
  if (Get-AgentService) {
    Stop-AgentService
    if (Test-Path -LiteralPath $ServiceExe) {
      Invoke-Native $ServiceExe @('uninstall') "removing the service with WinSW"
    } else {
      Invoke-Native 'sc.exe' @('delete', $ServiceId) "removing the service with sc.exe"
    }
  }
  if (Test-Path -LiteralPath $InstallDir) { Remove-Item -LiteralPath $InstallDir -Recurse -Force }
  if ($RemoveData) {
    if (Test-Path -LiteralPath $DataRoot) { Remove-Item -LiteralPath $DataRoot -Recurse -Force }
    Write-Host "Removed $ServiceId with its config, data and logs."
  } else {
    Write-Host "Removed $ServiceId. Kept $DataRoot (config, logs, and reports not yet delivered); -RemoveData deletes it."
  }
}

function Show-AgentStatus {
  $svc = Get-AgentService
  if (-not $svc) { Write-Host "Service $ServiceId is not installed."; return }
  Write-Host "Service ${ServiceId}: $($svc.Status)"
  & $AgentExe status --config $ConfigFile
}

if (-not ($Install -or $Start -or $Stop -or $Uninstall -or $Status)) {
  Get-Help $PSCommandPath -Detailed
  exit 2
}
Assert-Administrator
# In the order that makes sense when several are given: -Stop -Uninstall -Install -Start.
if ($Stop) { Stop-AgentService }
if ($Uninstall) { Uninstall-Agent }
if ($Install) { Install-Agent }
if ($Start) { Start-AgentService }
if ($Status) { Show-AgentStatus }
