# Install epodc from this offline wheelhouse (no network): a venv, then
# pip install --no-index --find-links <this folder>, then epodc --version.
#
#   powershell -ExecutionPolicy Bypass -File install.ps1 [-Target "C:\Program Files\epodc"] [-Python "py -3.12"]
#
# Needs Python 3.10-3.13 (x64) on the server; the `py` launcher is used when it is there.
param(
    [string]$Target = (Join-Path $env:ProgramFiles "epodc"),
    [string]$Python = ""
)
$ErrorActionPreference = "Stop"
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
if (-not $Python) {
    if (Get-Command py -ErrorAction SilentlyContinue) { $Python = "py -3" } else { $Python = "python" }
}
$exe, $pyArgs = $Python -split " ", 2
$venv = Join-Path $Target "venv"
& $exe $pyArgs -m venv $venv
if ($LASTEXITCODE -ne 0) { throw "could not create the venv in $venv" }
$venvPython = Join-Path $venv "Scripts\python.exe"
& $venvPython -m pip install --no-index --find-links $here epodc
if ($LASTEXITCODE -ne 0) { throw "pip could not install epodc from $here" }
$epodc = Join-Path $venv "Scripts\epodc.exe"
& $epodc --version
if ($LASTEXITCODE -ne 0) { throw "epodc does not start" }
# The path the Nagios, NSClient++ and Task Scheduler examples use.
Copy-Item $epodc (Join-Path $Target "epodc.exe") -Force -ErrorAction SilentlyContinue
Write-Host "epodc installed: $epodc"
