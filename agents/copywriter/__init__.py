"""The Moments copywriter: 广告法 compliance, fact checks and (later) grounded 朋友圈 copy.

The compliance core is imported by other agents (the CS commitment guard), so it stays pure:
`from agents.copywriter.compliance import check`.
"""
